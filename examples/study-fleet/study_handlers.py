"""Handlers of the study fleet's Python worker, loaded with
`python3 examples/python-worker/worker.py --handlers examples/study-fleet/study_handlers.py`."""

import os
import time

STEP_S = float(os.environ.get("STUDY_STEP_MS", "100")) / 1000.0


def run_assignment(payload, ctx):
    index = ctx.task["sessionIndex"]
    split = payload["splitConfig"]
    steps = int(payload["steps"])
    total = 0
    for step in range(1, steps + 1):
        if ctx.cancelled.is_set():
            raise RuntimeError("cancelled")
        time.sleep(STEP_S)
        total += sum(x * step for x in range(int(split["from"]), int(split["to"])))
        ctx.progress({"done": step, "total": steps})
        ctx.set_state({"study": payload["study"], "assignment": index, "phase": "simulating", "step": step, "of": steps})
    ctx.set_state({"study": payload["study"], "assignment": index, "phase": "done"})
    return {"index": index, "language": "python", "pid": os.getpid(), "sum": total}


HANDLERS = {"study.assignment": run_assignment}

#!/usr/bin/env python3
"""A Gaffer worker in Python, standard library only.

It speaks Gaffer's HTTP worker protocol (see docs/API.md, "Worker protocol"):
register, claim with long-poll, heartbeat (which carries cancellations), then
complete or fail each task; on SIGTERM / SIGINT it stops claiming, lets running
tasks finish, hands back anything it did not start, deregisters and prints a
summary.

    python3 worker.py --url http://127.0.0.1:7700 --types py.add,py.echo --concurrency 4

Put your own handlers in HANDLERS below: a function (payload, ctx) -> result.
Raise NonRetryableError to fail a task at once (no further attempt); any other
exception fails the attempt and Gaffer retries it with backoff.
"""

import argparse
import importlib.util
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

VERSION = "0.1.0"


class NonRetryableError(Exception):
    """Fail the task at once: retrying cannot help (bad input, a closed account)."""


class RateLimited(Exception):
    """A provider answered "too many requests": the task waits retry_after_ms in the queue, its attempt not spent."""

    def __init__(self, retry_after_ms, reason="rate-limited"):
        super().__init__(reason)
        self.retry_after_ms = max(0, int(retry_after_ms))


class LeaseLost(Exception):
    """This worker no longer holds the task (lease lapsed, task cancelled or taken over)."""


class GafferHTTPError(Exception):
    def __init__(self, status, problem):
        self.status = status
        self.code = problem.get("code", "unknown")
        self.detail = problem.get("detail", "")
        super().__init__(f"{status} {self.code}: {self.detail}")


def log(event, **fields):
    """One JSON line per event on stderr, like the TypeScript worker."""
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, **fields}
    sys.stderr.write(json.dumps(line) + "\n")
    sys.stderr.flush()


class Gaffer:
    """JSON over HTTP to a Gaffer server; problem documents become GafferHTTPError."""

    def __init__(self, url, token=None):
        self.base = url.rstrip("/") + "/api/v1"
        # X-Gaffer-Request marks a call as made by a program, not a web page: a server with auth
        # off refuses writes without it (or a JSON body), so a page cannot post to it cross-site.
        self.headers = {"Accept": "application/json", "X-Gaffer-Request": "1"}
        if token:
            self.headers["Authorization"] = "Bearer " + token

    def call(self, method, path, body=None, timeout=30):
        data = None
        headers = dict(self.headers)
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                text = res.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {"detail": raw.decode("utf-8", "replace")[:500]}
            raise GafferHTTPError(err.code, problem) from None


# --- handlers: task type -> function(payload, ctx) -> JSON-serialisable result ---


def handle_add(payload, ctx):
    return {"sum": payload["a"] + payload["b"]}


def handle_echo(payload, ctx):
    return payload


def handle_fail(payload, ctx):
    if payload and payload.get("fatal"):
        raise NonRetryableError("asked to fail for good")
    raise RuntimeError("asked to fail (attempt %d)" % ctx.attempt)


def handle_limited(payload, ctx):
    """Meets a rate limit on its first attempt (as a provider's 429 with Retry-After would), then succeeds."""
    if ctx.attempt == 1:
        raise RateLimited(int((payload or {}).get("retryAfterMs", 100)), "429 Too Many Requests")
    return {"attempt": ctx.attempt}


def handle_slow(payload, ctx):
    """Works in steps, reports progress, and stops early when the task is cancelled."""
    steps = int((payload or {}).get("steps", 50))
    for i in range(steps):
        if ctx.cancelled.is_set():
            raise RuntimeError("cancelled")
        time.sleep(0.1)
        ctx.progress({"done": i + 1, "total": steps})
    return {"steps": steps}


HANDLERS = {
    "py.add": handle_add,
    "py.echo": handle_echo,
    "py.fail": handle_fail,
    "py.slow": handle_slow,
    "py.limited": handle_limited,
}


class TaskContext:
    def __init__(self, worker, task):
        self.worker = worker
        self.task = task
        self.attempt = task["attempt"]
        self.cancelled = threading.Event()  # set when a heartbeat says the task was cancelled
        self.lost = threading.Event()  # set when a heartbeat says the lease is gone

    def progress(self, value):
        try:
            self.worker.report(self.task, "progress", {"attempt": self.attempt, "progress": value})
        except LeaseLost:
            self.lost.set()

    def set_state(self, value):
        """The worker's free-form state (any JSON), shown live in the fleet view."""
        self.worker.gaffer.call("PUT", "/worker/%s/state" % self.worker.worker_id, {"state": value})


class Worker:
    def __init__(self, args):
        self.gaffer = Gaffer(args.url, args.token)
        self.types = [t for t in args.types.split(",") if t]
        self.concurrency = args.concurrency
        self.wait_ms = args.wait_ms
        self.machine_id = args.machine_id
        self.name = args.name
        self.grace = args.grace
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.running = {}  # task id -> TaskContext
        self.completed = 0
        self.failed = 0
        self.started_at = time.time()
        self.worker_id = None
        self.heartbeat_s = 10.0

    # --- protocol calls ---

    def register(self):
        body = {
            "machineId": self.machine_id,
            "name": self.name,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "version": VERSION,
            "types": self.types,
            "concurrency": self.concurrency,
            "labels": {"language": "python"},
        }
        # Absent fields are left out: the server refuses null where it expects a string.
        reg = self.gaffer.call("POST", "/worker/register", {k: v for k, v in body.items() if v is not None})
        self.worker_id = reg["workerId"]
        self.heartbeat_s = max(0.2, reg["heartbeatMs"] / 1000.0)
        log("worker_registered", workerId=self.worker_id, types=self.types, machineId=self.machine_id)

    def report(self, task, what, body):
        """complete / fail / progress / rate-limited / hand-back of a held attempt; 409 or 404 mean the lease is gone."""
        path = "/worker/%s/tasks/%s/%s" % (self.worker_id, urllib.request.quote(task["id"], safe=""), what)
        try:
            return self.gaffer.call("POST", path, body)
        except GafferHTTPError as err:
            if err.code in ("lease_lost", "not_found"):
                raise LeaseLost(err.detail) from None
            raise

    def claim(self):
        res = self.gaffer.call(
            "POST",
            "/worker/%s/claim" % self.worker_id,
            {"types": self.types, "limit": 1, "waitMs": self.wait_ms},
            timeout=self.wait_ms / 1000.0 + 30,
        )
        return res["tasks"]

    # --- loops ---

    def heartbeat_loop(self):
        while not self.stopping.wait(self.heartbeat_s):
            self.beat()

    def beat(self):
        with self.lock:
            held = [{"taskId": c.task["id"], "attempt": c.attempt} for c in self.running.values()]
        try:
            res = self.gaffer.call(
                "POST",
                "/worker/%s/heartbeat" % self.worker_id,
                {"held": held, "stats": {"processed": self.completed + self.failed, "failed": self.failed}},
            )
        except Exception as err:  # keep beating; the server may be back next time
            log("heartbeat_error", error=str(err))
            return
        with self.lock:
            for ref in res["cancelled"]:
                ctx = self.running.get(ref["taskId"])
                if ctx and ctx.attempt == ref["attempt"]:
                    ctx.cancelled.set()
            for ref in res["lost"]:
                ctx = self.running.get(ref["taskId"])
                if ctx and ctx.attempt == ref["attempt"]:
                    ctx.lost.set()
        if not res["live"] and not self.stopping.is_set():
            log("worker_stale", workerId=self.worker_id)
            self.register()

    def claim_loop(self):
        backoff = 0.1
        while not self.stopping.is_set():
            try:
                tasks = self.claim()
                backoff = 0.1
            except GafferHTTPError as err:
                if err.code == "worker_not_live":
                    log("worker_stale", workerId=self.worker_id, detail=err.detail)
                    self.register()
                    continue
                log("claim_error", error=str(err))
                time.sleep(backoff)
                backoff = min(backoff * 2, 5)
                continue
            except Exception as err:  # server unreachable: wait and try again
                log("claim_error", error=str(err))
                time.sleep(backoff)
                backoff = min(backoff * 2, 5)
                continue
            for task in tasks:
                if self.stopping.is_set():
                    self.hand_back(task)
                else:
                    self.run(task)

    def run(self, task):
        ctx = TaskContext(self, task)
        with self.lock:
            self.running[task["id"]] = ctx
        log("task_claimed", taskId=task["id"], type=task["type"], attempt=ctx.attempt)
        try:
            handler = HANDLERS.get(task["type"])
            if handler is None:
                raise NonRetryableError("this worker has no handler for task type %s" % task["type"])
            result = handler(task["payload"], ctx)
            if ctx.lost.is_set():
                raise LeaseLost("the lease was lost while the handler ran")
            self.report(task, "complete", {"attempt": ctx.attempt, "result": result})
            with self.lock:
                self.completed += 1
            log("task_completed", taskId=task["id"], attempt=ctx.attempt)
        except LeaseLost as err:
            log("lease_lost", taskId=task["id"], attempt=ctx.attempt, detail=str(err))
        except RateLimited as err:
            body = {"attempt": ctx.attempt, "retryAfterMs": err.retry_after_ms, "reason": str(err)[:1000] or "rate-limited"}
            try:
                res = self.report(task, "rate-limited", body)
                log("task_rate_limited", taskId=task["id"], attempt=ctx.attempt, until=res["until"])
            except LeaseLost as lost:
                log("lease_lost", taskId=task["id"], attempt=ctx.attempt, detail=str(lost))
        except Exception as err:
            retryable = not isinstance(err, NonRetryableError)
            error = {"message": str(err)[:4000] or type(err).__name__, "name": type(err).__name__, "retryable": retryable}
            if ctx.cancelled.is_set():
                error["kind"] = "cancelled"
            try:
                res = self.report(task, "fail", {"attempt": ctx.attempt, "error": error})
                with self.lock:
                    self.failed += 1
                log("task_failed", taskId=task["id"], attempt=ctx.attempt, error=error["message"], status=res["status"])
            except LeaseLost as lost:
                log("lease_lost", taskId=task["id"], attempt=ctx.attempt, detail=str(lost))
        finally:
            with self.lock:
                self.running.pop(task["id"], None)

    def hand_back(self, task):
        try:
            self.report(task, "hand-back", {"attempt": task["attempt"]})
            log("task_handed_back", taskId=task["id"])
        except Exception as err:
            log("hand_back_error", taskId=task["id"], error=str(err))

    # --- lifecycle ---

    def start(self):
        self.register()
        log("worker_startup", workerId=self.worker_id, concurrency=self.concurrency, url=self.gaffer.base)
        threading.Thread(target=self.heartbeat_loop, name="heartbeat", daemon=True).start()
        self.threads = [
            threading.Thread(target=self.claim_loop, name="slot-%d" % i, daemon=True) for i in range(self.concurrency)
        ]
        for t in self.threads:
            t.start()

    def run_assignment(self, session_id, index):
        """`gaffer worker N <session>`: claim the task at index N of a session, run it, stop. True if it completed."""
        self.register()
        self.threads = []
        threading.Thread(target=self.heartbeat_loop, name="heartbeat", daemon=True).start()
        # 409 when another worker holds it, 404 when the session has no such index.
        task = self.gaffer.call("POST", "/worker/%s/claim-session" % self.worker_id, {"sessionId": session_id, "index": index})["task"]
        done = self.completed
        self.run(task)
        sys.stderr.write("assignment %d of session %s: task %s\n" % (task["sessionIndex"], session_id, task["id"]))
        return self.completed > done

    def stop(self):
        """Stop claiming, let running tasks finish (up to the grace period), deregister, print the summary."""
        self.stopping.set()
        deadline = time.time() + self.grace
        for t in self.threads:
            t.join(max(0.0, deadline - time.time()))
        try:
            # Anything still running past the grace period goes back with the deregistration.
            self.gaffer.call("DELETE", "/worker/%s" % self.worker_id)
        except Exception as err:
            log("deregister_error", error=str(err))
        processed = self.completed + self.failed
        summary = {
            "workerId": self.worker_id,
            "uptimeS": round(time.time() - self.started_at, 1),
            "processed": processed,
            "completed": self.completed,
            "failed": self.failed,
            "successRate": round(self.completed / processed, 3) if processed else 1.0,
        }
        log("worker_shutdown", **summary)
        print(
            "gaffer python worker %s stopped: uptime %ss, processed %d, completed %d, failed %d, success rate %.1f%%"
            % (
                self.worker_id,
                summary["uptimeS"],
                processed,
                self.completed,
                self.failed,
                summary["successRate"] * 100,
            ),
            flush=True,
        )


def main():
    p = argparse.ArgumentParser(description="A Gaffer worker using only the Python standard library.")
    p.add_argument("--url", default=os.environ.get("GAFFER_URL", "http://127.0.0.1:7700"), help="Gaffer server URL")
    p.add_argument("--token", default=os.environ.get("GAFFER_TOKEN"), help="API token (a worker token)")
    p.add_argument(
        "--types", default=os.environ.get("GAFFER_TYPES", ",".join(HANDLERS)), help="task types to claim, comma-separated"
    )
    p.add_argument("--concurrency", type=int, default=int(os.environ.get("GAFFER_CONCURRENCY", "4")))
    p.add_argument("--machine-id", default=os.environ.get("GAFFER_MACHINE_ID", socket.gethostname()))
    p.add_argument("--name", default=os.environ.get("GAFFER_WORKER_NAME"), help="slot name on this machine")
    p.add_argument("--wait-ms", type=int, default=5000, help="long-poll wait per claim (max 20000)")
    p.add_argument("--grace", type=float, default=30.0, help="seconds running tasks get to finish on shutdown")
    p.add_argument("--handlers", help="a Python file whose HANDLERS dict is added to the built-in ones")
    p.add_argument("--session", help="run one assignment of this session (with --index), then exit")
    p.add_argument("--index", type=int, help="the assignment index to claim in --session")
    args = p.parse_args()

    if args.handlers:
        spec = importlib.util.spec_from_file_location("gaffer_handlers", args.handlers)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        HANDLERS.update(module.HANDLERS)
        if "--types" not in sys.argv and "GAFFER_TYPES" not in os.environ:
            args.types = ",".join(HANDLERS)
    if args.session is not None:
        if args.index is None:
            p.error("--session needs --index N")
        worker = Worker(args)
        try:
            ok = worker.run_assignment(args.session, args.index)
        except GafferHTTPError as err:
            sys.stderr.write("cannot claim assignment %d of %s: %s\n" % (args.index, args.session, err))
            return 1
        worker.stop()
        return 0 if ok else 1

    unknown = [t for t in args.types.split(",") if t and t not in HANDLERS]
    if unknown:
        p.error("no handler for %s; add it to HANDLERS" % ", ".join(unknown))

    worker = Worker(args)
    try:
        worker.start()
    except Exception as err:
        sys.stderr.write("cannot start: %s\n" % err)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(0.2):
        pass
    log("worker_shutdown_requested", workerId=worker.worker_id)
    worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

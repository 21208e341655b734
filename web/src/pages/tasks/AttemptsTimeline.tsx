import type { TaskEvent } from '../../api/types';
import { formatDuration, formatTime } from '../../components/format';
import { WorkerLink } from './TaskTable';

interface Attempt {
  n: number;
  startedAt: string;
  workerId: string | null;
  endedAt: string | null;
  outcome: string;
  message: string | null;
}

const ENDINGS: Record<string, string> = {
  completed: 'completed',
  attempt_failed: 'failed',
  lease_lost: 'lease lost',
  timed_out: 'timed out',
  cancelled: 'cancelled',
  handed_back: 'handed back',
};

function errorMessage(data: TaskEvent['data']): string | null {
  if (!data) return null;
  const err = data.error;
  if (err && typeof err === 'object' && !Array.isArray(err) && typeof err.message === 'string')
    return err.message;
  return typeof data.message === 'string' ? data.message : null;
}

/** Attempts rebuilt from the history: each starts at a claim and ends at its first outcome. */
export function attemptsFrom(events: TaskEvent[]): Attempt[] {
  const out: Attempt[] = [];
  for (const e of events) {
    if (e.kind === 'claimed') {
      out.push({
        n: e.attempt,
        startedAt: e.at,
        workerId: e.workerId,
        endedAt: null,
        outcome: 'running',
        message: null,
      });
      continue;
    }
    const a = out.find((x) => x.n === e.attempt && x.endedAt === null);
    const ending = ENDINGS[e.kind];
    if (!a || !ending) continue;
    a.endedAt = e.at;
    a.outcome = ending;
    a.message = errorMessage(e.data);
  }
  return out;
}

export function AttemptsTimeline({ events, live }: { events: TaskEvent[]; live: boolean }) {
  const attempts = attemptsFrom(events);
  if (attempts.length === 0) return <p className="muted">Not run yet.</p>;
  return (
    <ol className="timeline" data-testid="attempts">
      {attempts.map((a) => {
        const running = a.endedAt === null;
        const end = a.endedAt ? new Date(a.endedAt).getTime() : Date.now();
        const outcome = running && !live ? 'unknown' : a.outcome;
        return (
          <li key={`${a.n}-${a.startedAt}`} className={`timeline-item outcome-${outcome.replace(' ', '-')}`}>
            <div className="timeline-head">
              <strong>Attempt {a.n}</strong>
              <span className={`badge badge-${outcome.replace(' ', '-')}`}>{outcome}</span>
              <span className="muted">{formatDuration(end - new Date(a.startedAt).getTime())}</span>
            </div>
            <div className="timeline-meta">
              <span title={formatTime(a.startedAt)}>started {formatTime(a.startedAt)}</span>
              <span>
                on <WorkerLink id={a.workerId} />
              </span>
            </div>
            {a.message && <div className="timeline-error">{a.message}</div>}
          </li>
        );
      })}
    </ol>
  );
}

import type { Session } from '../../api/types';
import { TASK_STATUSES } from '../../api/types';

/** "3 completed · 1 running · 2 queued": the non-zero task counts of a session. */
export function SessionCounts({ s }: { s: Session }) {
  const parts = TASK_STATUSES.filter((st) => (s.counts[st] ?? 0) > 0);
  if (parts.length === 0) return <span className="muted">no tasks</span>;
  return (
    <span className="counts">
      {parts.map((st) => (
        <span key={st} className={`count count-${st}`}>
          {s.counts[st]} {st}
        </span>
      ))}
    </span>
  );
}

import { useAlerts } from '../../api/queries';
import { Ago } from '../../components/Ago';
import { EmptyState, ErrorState, Loading } from '../../components/States';

const RULES: Record<string, string> = {
  dead_letters: 'Dead letters',
  oldest_queued: 'Work waiting too long',
  no_live_worker: 'No live worker',
};

/** Alerts firing now (R7.3); an empty state when none fire or the server has no alert rules. */
export function AlertsPanel() {
  const q = useAlerts();
  if (q.isPending) return <Loading what="Loading alerts" />;
  if (q.isError) return <ErrorState error={q.error} title="Alerts are unavailable" />;
  if (q.data === null)
    return <EmptyState title="No alert rules">This server does not evaluate alerts.</EmptyState>;
  if (q.data.length === 0) return <EmptyState title="All clear">No alert is firing.</EmptyState>;
  return (
    <ul className="alerts" data-testid="alerts">
      {q.data.map((a) => (
        <li key={a.id} className={`alert alert-${a.severity}`}>
          <div className="alert-head">
            <strong>{RULES[a.rule] ?? a.rule}</strong>
            {a.subject && <span className="mono small">{a.subject}</span>}
            <span className={`badge badge-${a.severity}`}>{a.severity}</span>
          </div>
          <span>{a.summary}</span>
          <span className="muted small">
            firing since <Ago at={a.firedAt} />
          </span>
        </li>
      ))}
    </ul>
  );
}

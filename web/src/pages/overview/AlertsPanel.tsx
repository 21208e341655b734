import { useAlerts } from '../../api/queries';
import { Ago } from '../../components/Ago';
import { EmptyState, ErrorState, Loading } from '../../components/States';

/** Alerts that fire now (R7.3); an empty state when none fire or the server has no alert rules. */
export function AlertsPanel() {
  const q = useAlerts();
  if (q.isPending) return <Loading what="Loading alerts" />;
  if (q.isError) return <ErrorState error={q.error} title="Alerts are unavailable" />;
  if (q.data === null)
    return <EmptyState title="No alert rules">This server does not evaluate alerts.</EmptyState>;
  if (q.data.length === 0) return <EmptyState title="All clear">No alert is firing.</EmptyState>;
  return (
    <ul className="alerts" data-testid="alerts">
      {q.data.map((a, i) => (
        <li key={a.id ?? a.rule ?? a.name ?? i} className={`alert alert-${a.severity ?? 'warning'}`}>
          <strong>{a.name ?? a.rule ?? 'alert'}</strong>
          <span>{a.message ?? a.detail ?? ''}</span>
          {a.since && (
            <span className="muted">
              since <Ago at={a.since} />
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}

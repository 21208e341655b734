import { Link } from 'react-router';
import { useDeleteSession } from '../../api/actions';
import { useSessions } from '../../api/queries';
import { SESSION_STATUSES, type Session } from '../../api/types';
import { Ago } from '../../components/Ago';
import { Progress, StatusBadge } from '../../components/Badges';
import { ConfirmButton } from '../../components/ConfirmButton';
import { FilterBar, type FilterField, useUrlFilters } from '../../components/FilterBar';
import { shortId } from '../../components/format';
import { PageHeader } from '../../components/Layout';
import { ActionError, EmptyState, ErrorState, Loading } from '../../components/States';
import { SessionCounts } from './SessionCounts';

const NAMES = ['key', 'userId', 'status'] as const;
const FIELDS: (FilterField & { name: (typeof NAMES)[number] })[] = [
  { name: 'key', label: 'Key' },
  { name: 'userId', label: 'User' },
  { name: 'status', label: 'Status', options: SESSION_STATUSES },
];

function Row({ s }: { s: Session }) {
  const del = useDeleteSession();
  return (
    <tr data-session-id={s.id}>
      <td>
        <Link to={`/sessions/${encodeURIComponent(s.id)}`} className="mono" title={s.id}>
          {shortId(s.id)}
        </Link>
      </td>
      <td>
        {s.key ? (
          <Link to={`/sessions?key=${encodeURIComponent(s.key)}`}>{s.key}</Link>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>{s.userId ?? <span className="muted">—</span>}</td>
      <td>
        <StatusBadge status={s.status} />
      </td>
      <td className="cell-progress">
        <Progress fraction={s.progress} />
      </td>
      <td>
        <SessionCounts s={s} />
        <ActionError error={del.error} />
      </td>
      <td>
        <Ago at={s.updatedAt} />
      </td>
      <td className="row-actions">
        <ConfirmButton
          label="Delete"
          className="btn btn-small btn-danger-ghost"
          title={`Delete session ${s.id}?`}
          confirmLabel="Delete session"
          danger
          onConfirm={() => del.mutate(s.id)}
        >
          Its running tasks are cancelled, then its {s.taskCount} task{s.taskCount === 1 ? '' : 's'} and their
          history are removed.
        </ConfirmButton>
      </td>
    </tr>
  );
}

export function SessionsPage() {
  const [filter, setFilter] = useUrlFilters(NAMES);
  const list = useSessions(filter);
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = Object.values(filter).some(Boolean);
  return (
    <>
      <PageHeader title="Sessions" sub="Groups of tasks created by one request, by key and status." />
      <FilterBar fields={FIELDS} values={filter} onChange={setFilter} />
      <section className="card">
        {list.isPending ? (
          <Loading what="Loading sessions" />
        ) : list.isError ? (
          <ErrorState error={list.error} />
        ) : items.length === 0 ? (
          <EmptyState title={filtered ? 'No sessions match' : 'No sessions yet'}>
            {filtered ? 'Change the filters.' : 'Create one with POST /api/v1/sessions or the SDK.'}
          </EmptyState>
        ) : (
          <>
            <div className="table-wrap">
              <table className="table" data-testid="session-table">
                <thead>
                  <tr>
                    <th>Session</th>
                    <th>Key</th>
                    <th>User</th>
                    <th>Status</th>
                    <th>Progress</th>
                    <th>Tasks</th>
                    <th>Updated</th>
                    <th aria-label="Actions" />
                  </tr>
                </thead>
                <tbody>
                  {items.map((s) => (
                    <Row key={s.id} s={s} />
                  ))}
                </tbody>
              </table>
            </div>
            {list.hasNextPage && (
              <button type="button" className="btn load-more" onClick={() => void list.fetchNextPage()}>
                Load more
              </button>
            )}
          </>
        )}
      </section>
    </>
  );
}

import { useState } from 'react';
import { Link } from 'react-router';
import { useDeleteDeadLetter, useRetryDeadLetter, useRetryDeadLetters } from '../../api/actions';
import { useDeadLetters, useTaskCounts } from '../../api/queries';
import type { BulkResult, Task, TaskFilter } from '../../api/types';
import { Ago } from '../../components/Ago';
import { ConfirmButton } from '../../components/ConfirmButton';
import { FilterBar, type FilterField, useUrlFilters } from '../../components/FilterBar';
import { shortId } from '../../components/format';
import { PageHeader } from '../../components/Layout';
import { ActionError, EmptyState, ErrorState, Loading } from '../../components/States';

const NAMES = ['type', 'queue', 'sessionId', 'key', 'errorContains'] as const;
const FIELDS: (FilterField & { name: (typeof NAMES)[number] })[] = [
  { name: 'type', label: 'Type' },
  { name: 'queue', label: 'Queue' },
  { name: 'sessionId', label: 'Session' },
  { name: 'key', label: 'Key' },
  { name: 'errorContains', label: 'Error contains', placeholder: 'text in the error' },
];

function Row({ t }: { t: Task }) {
  const retry = useRetryDeadLetter();
  const del = useDeleteDeadLetter();
  return (
    <tr data-task-id={t.id}>
      <td>
        <Link to={`/tasks/${encodeURIComponent(t.id)}`} className="mono" title={t.id}>
          {shortId(t.id)}
        </Link>
      </td>
      <td>{t.type}</td>
      <td>{t.queue}</td>
      <td className="cell-error">
        {t.error ? (
          <>
            {t.error.name && <b>{t.error.name}: </b>}
            {t.error.message}
          </>
        ) : (
          <span className="muted">—</span>
        )}
        <ActionError error={retry.error ?? del.error} />
      </td>
      <td className="num">{t.attempt}</td>
      <td>
        <Ago at={t.finishedAt} />
      </td>
      <td className="row-actions">
        <button
          type="button"
          className="btn btn-small"
          disabled={retry.isPending}
          onClick={() => retry.mutate(t.id)}
        >
          Retry
        </button>
        <ConfirmButton
          label="Delete"
          className="btn btn-small btn-danger-ghost"
          title={`Delete dead letter ${t.id}?`}
          confirmLabel="Delete"
          danger
          onConfirm={() => del.mutate(t.id)}
        >
          The task and its history are removed for good.
        </ConfirmButton>
      </td>
    </tr>
  );
}

export function DeadLettersPage() {
  const [filter, setFilter] = useUrlFilters(NAMES);
  const f: TaskFilter = filter;
  const list = useDeadLetters(f);
  const counts = useTaskCounts({ ...f, status: 'failed' });
  const retryAll = useRetryDeadLetters();
  const [result, setResult] = useState<BulkResult | null>(null);
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const matching = counts.data?.failed ?? items.length;
  const filtered = Object.values(filter).some(Boolean);
  return (
    <>
      <PageHeader
        title="Dead letters"
        sub="Tasks that ended failed: attempts spent or a non-retryable error. Retry (redrive) them one by one or all at once."
        actions={
          <ConfirmButton
            label={`Retry all${filtered ? ' matching' : ''} (${matching})`}
            title={`Retry ${matching} dead letter${matching === 1 ? '' : 's'}?`}
            confirmLabel="Retry all"
            disabled={matching === 0 || retryAll.isPending}
            className="btn btn-primary"
            onConfirm={() => retryAll.mutate(f, { onSuccess: setResult })}
          >
            {filtered
              ? 'Every failed task matching the filters goes back to the queue.'
              : 'Every failed task goes back to the queue.'}
          </ConfirmButton>
        }
      />
      <FilterBar fields={FIELDS} values={filter} onChange={setFilter} />
      <ActionError error={retryAll.error} />
      {result && (
        <p className="notice" role="status">
          Retried {result.changed} of {result.matched} matching task{result.matched === 1 ? '' : 's'}.
        </p>
      )}
      <section className="card">
        {list.isPending ? (
          <Loading what="Loading dead letters" />
        ) : list.isError ? (
          <ErrorState error={list.error} />
        ) : items.length === 0 ? (
          <EmptyState title={filtered ? 'No dead letters match' : 'No dead letters'}>
            {filtered ? 'Change the filters.' : 'Nothing has failed for good. 🎉'}
          </EmptyState>
        ) : (
          <>
            <div className="table-wrap">
              <table className="table" data-testid="dead-letter-table">
                <thead>
                  <tr>
                    <th>Task</th>
                    <th>Type</th>
                    <th>Queue</th>
                    <th>Last error</th>
                    <th className="num">Attempts</th>
                    <th>Failed</th>
                    <th aria-label="Actions" />
                  </tr>
                </thead>
                <tbody>
                  {items.map((t) => (
                    <Row key={t.id} t={t} />
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

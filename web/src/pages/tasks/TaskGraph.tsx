import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import type * as S from '../../../../src/store/types.js';
import { api } from '../../api/client';
import type { Wire } from '../../api/types';
import { Ago } from '../../components/Ago';
import { StatusBadge } from '../../components/Badges';

type Graph = Wire<S.TaskGraph>;
type Link_ = Wire<S.TaskLink>;

/** Children drawn per node: a fan-in of thousands shows its first ones and a count. */
const CHILDREN_SHOWN = 50;

function useGraph(id: string) {
  return useQuery({
    queryKey: ['task', id, 'graph'],
    queryFn: ({ signal }) =>
      api.get<Graph>(`/api/v1/tasks/${encodeURIComponent(id)}/graph`, undefined, signal),
  });
}

function TaskRef({
  l,
  current,
}: {
  l: Link_ | { id: string; type: string; status: string };
  current?: boolean;
}) {
  return (
    <span className={current ? 'graph-node graph-current' : 'graph-node'}>
      <StatusBadge status={l.status} />{' '}
      {current ? (
        <span className="mono">{l.id}</span>
      ) : (
        <Link to={`/tasks/${encodeURIComponent(l.id)}`} className="mono">
          {l.id}
        </Link>
      )}{' '}
      <span className="muted">{l.type}</span>
    </span>
  );
}

/** One node of the tree of children, and its own children below it (fetched as it is drawn). */
function TreeNode({ id, current, depth }: { id: string; current: string; depth: number }) {
  const g = useGraph(id);
  const task = useQuery({
    queryKey: ['task', id],
    queryFn: ({ signal }) =>
      api.get<Wire<S.Task>>(`/api/v1/tasks/${encodeURIComponent(id)}`, undefined, signal),
  });
  if (!g.data || !task.data) return <li className="muted">…</li>;
  const kids = g.data.children;
  return (
    <li>
      <TaskRef l={task.data} current={id === current} />
      {kids.length > 0 && depth < 12 && (
        <ul className="graph-tree">
          {kids.slice(0, CHILDREN_SHOWN).map((c) => (
            <TreeNode key={c.id} id={c.id} current={current} depth={depth + 1} />
          ))}
          {kids.length > CHILDREN_SHOWN && <li className="muted">and {kids.length - CHILDREN_SHOWN} more</li>}
        </ul>
      )}
    </li>
  );
}

/** The root of a task's tree of children: up the parent links from the task. */
function useRoot(id: string, parentId: string | null): string {
  const parent = useQuery({
    queryKey: ['task', parentId ?? '', 'root'],
    enabled: parentId !== null,
    queryFn: async ({ signal }) => {
      let at = parentId!;
      for (let i = 0; i < 12; i++) {
        const t = await api.get<Wire<S.Task>>(`/api/v1/tasks/${encodeURIComponent(at)}`, undefined, signal);
        if (!t.parentId) return t.id;
        at = t.parentId;
      }
      return at;
    },
  });
  return parentId === null ? id : (parent.data ?? parentId);
}

/** What a task waits for, what it depends on and what depends on it, and its tree of children. */
export function TaskGraph({ id, parentId }: { id: string; parentId: string | null }) {
  const g = useGraph(id);
  const root = useRoot(id, parentId);
  if (!g.data) return null;
  const { wait, dependsOn, dependents, children } = g.data;
  if (!wait && dependsOn.length === 0 && dependents.length === 0 && children.length === 0 && !parentId)
    return null;
  return (
    <section className="card" data-testid="task-graph">
      <h2>Workflow</h2>
      {wait && (
        <p data-testid="task-wait">
          Waiting for <strong>{wait.kind}</strong>
          {wait.kind !== 'signal' && ` (${wait.pending} unfinished, on failure: ${wait.onFailure})`}
          {wait.timeoutAt && (
            <>
              {' '}
              until <Ago at={wait.timeoutAt} />, then {wait.onTimeout}
            </>
          )}
        </p>
      )}
      {dependsOn.length > 0 && (
        <>
          <h3>Depends on</h3>
          <ul className="graph-list">
            {dependsOn.map((l) => (
              <li key={l.id}>
                <TaskRef l={l} />
              </li>
            ))}
          </ul>
        </>
      )}
      {dependents.length > 0 && (
        <>
          <h3>Depended on by</h3>
          <ul className="graph-list">
            {dependents.map((l) => (
              <li key={l.id}>
                <TaskRef l={l} />
              </li>
            ))}
          </ul>
        </>
      )}
      {(children.length > 0 || parentId) && (
        <>
          <h3>Tree</h3>
          <ul className="graph-tree" data-testid="task-tree">
            <TreeNode id={root} current={id} depth={0} />
          </ul>
        </>
      )}
    </section>
  );
}

/**
 * The running tasks, `t`, with their claims, `c` (migration 0004): the tasks of open claims that
 * still run under them. A task that lapsed and was claimed again while its first claim stays open
 * (the claim's other tasks still run) is in both claims' seqs; matching its claim_id keeps it once.
 * Use as `from ${RUNNING_TASKS}`; it may stand in a subquery of a query that has its own `t`.
 */
export const RUNNING_TASKS = `task_claims c cross join unnest(c.seqs) s(seq)
  join tasks t on t.seq = s.seq and t.claim_id = c.id and t.status = 'running'`;

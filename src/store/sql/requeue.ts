/**
 * Puts the tasks a CTE returned back into task_queue, the runnable set claims read (migration
 * 0004), as `status`. Every statement that makes a task runnable again uses it, so a queue row
 * always copies the same columns of its task. Use as a CTE's body: `queued as (${requeueFrom(...)})`.
 */
export function requeueFrom(source: string, status: 'queued' | 'retrying', where?: string): string {
  return `insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index,
    avoid_machine_id, avoid_labels, concurrency_key)
  select seq, '${status}', queue, type, priority, run_at, session_id, session_index, avoid_machine_id, avoid_labels,
    concurrency_key
  from ${source}${where ? ` where ${where}` : ''}`;
}

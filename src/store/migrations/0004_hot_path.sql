-- Gaffer schema, version 4: the hot path (issue 6, docs/BENCHMARKS.md).
--
-- A claim and a completion each rewrite their task's row. Before this version every such rewrite
-- was a full new row version that went into every index of tasks, because status, worker_id and
-- finished_at were indexed (tasks_runnable, tasks_running_worker, tasks_status_seq, tasks_finished).
-- Now no index of tasks covers a column that a claim, a heartbeat or a completion changes, so
-- those rewrites are HOT (heap-only) updates: no index entry at all, and room for them is kept on
-- each page (fillfactor). What the dropped indexes found is found in task_queue instead: a small
-- table of the tasks that are queued, retrying or running (the active set).
--
-- The happy path's history (created, claimed, completed) is no longer written as rows: the task row
-- holds it (created_at; attempt, worker_id, started_at; finished_at), and getTaskEvents reads it
-- from there. Every other event is still a row, and a claim is written as a row as soon as its
-- attempt ends any other way (failed, lost, timed out, cancelled, handed back). Rows written by
-- earlier versions stay valid: a kind already recorded is not derived again.

-- The active set: one row per queued, retrying or running task, keyed by the task's seq, with the
-- task's status mirrored (so depth and waiting counts read this table alone). worker_id is null while
-- the task waits to be claimed, and the claiming worker while it runs.
create table task_queue (
  seq bigint primary key,
  status text not null check (status in ('queued', 'retrying', 'running')),
  queue text not null,
  type text not null,
  priority int not null,
  run_at timestamptz not null,
  session_id text,
  session_index int,
  avoid_machine_id text,
  avoid_labels jsonb,
  worker_id text
);
-- Claim order, over the tasks waiting to be claimed only.
create index task_queue_runnable on task_queue (priority desc, run_at, seq) where worker_id is null;
-- Heartbeats, lease rescue and a worker's current tasks.
create index task_queue_running on task_queue (worker_id) where worker_id is not null;
-- Claim of assignment N of a session.
create index task_queue_session on task_queue (session_id, session_index) where session_id is not null;

insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index, avoid_machine_id,
  avoid_labels, worker_id)
select seq, status, queue, type, priority, run_at, session_id, session_index, avoid_machine_id, avoid_labels,
  case when status = 'running' then worker_id end
from tasks where status in ('queued', 'retrying', 'running');

drop index tasks_runnable;
drop index tasks_running_worker;
drop index tasks_status_seq;
drop index tasks_finished;
-- Listing in creation order, and the lookups of the hot path by seq (a bigint, cheaper than the id).
create index tasks_seq on tasks (seq);
-- Dead letters and other tasks that failed an attempt: error changes only when an attempt fails.
create index tasks_errored on tasks (seq) where error is not null;
-- A claim, a heartbeat and a completion each add a version of the row; HOT needs it on the same page.
alter table tasks set (fillfactor = 50);

-- Tasks completed and failed per minute (the dashboard's chart, `throughput()`), kept as counters
-- so no index on finished_at is needed. One row per minute and database connection (backend pid):
-- a connection adds to its own row, so completions on different connections never wait for each
-- other's row lock.
create table task_throughput (
  minute timestamptz not null,
  node int not null,
  completed int not null default 0,
  failed int not null default 0,
  primary key (minute, node)
);
insert into task_throughput (minute, node, completed, failed)
select date_trunc('minute', finished_at), 0, count(*) filter (where status = 'completed'),
  count(*) filter (where status = 'failed')
from tasks where status in ('completed', 'failed') and finished_at > now() - interval '1 day'
group by 1;

-- Deleting tasks deletes their history and their place in the active set, once per statement.
create or replace function tasks_delete_events() returns trigger language plpgsql set search_path from current as $$
begin
  delete from task_events e using deleted_tasks d where e.task_id = d.id;
  delete from task_queue q using deleted_tasks d where q.seq = d.seq;
  return null;
end $$;

drop function claim_tasks(text, timestamptz, int, int, text[], text[], int, text, int);
drop function insert_tasks(text[], text[], text[], text[], int[], timestamptz[], int[], int[], int[], text[],
  text[], text[], int[], text[], text[], text[], int, jsonb);
drop function complete_tasks(text[], int[], text[], text[]);

-- Claims up to p_limit tasks the worker may run (or one task of a session: the one at
-- p_session_index, else its lowest free index) and starts an attempt on each: attempt + 1 is the
-- fencing token, the lease runs from now. Returns one row: a JSON array of the claimed tasks in claim
-- order, with only what a worker needs (one JSON document parses far faster than rows of columns).
-- Nothing if the worker is not live.
--
-- The claim commits asynchronously (synchronous_commit off for its transaction): a claim lost in a
-- database crash only puts its tasks back in the queue with the attempt they had, to be claimed
-- again; at-least-once holds and the fencing still refuses the earlier holder's writes (its worker
-- id no longer matches). Creates, completions and failures stay synchronous, and a synchronous
-- commit flushes every claim before it. This saves a WAL flush per claim on the pickup path.
create function claim_tasks(p_worker text, p_now timestamptz, p_stale_ms int, p_lease_ms int,
  p_types text[], p_queues text[], p_limit int, p_session text, p_session_index int)
returns json language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan
set enable_seqscan = off set enable_bitmapscan = off set enable_sort = off as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_machine text;
  v_labels jsonb;
  v_seqs bigint[];
  v_out json;
begin
  perform set_config('synchronous_commit', 'off', true);
  select w.machine_id, w.labels into v_machine, v_labels from workers w
  where w.id = p_worker and w.stale_at is null
    and w.last_heartbeat_at > v_now - make_interval(secs => p_stale_ms / 1000.0);
  if not found then
    return null;
  end if;
  if p_session is null then
    with picked as (
      select q.seq from task_queue q
      where q.worker_id is null and q.run_at <= v_now
        and (p_types is null or q.type = any(p_types))
        and (p_queues is null or q.queue = any(p_queues))
        and (q.avoid_machine_id is null or q.avoid_machine_id <> v_machine)
        and (q.avoid_labels is null or not (v_labels @> q.avoid_labels))
      order by q.priority desc, q.run_at, q.seq
      limit p_limit
      for update skip locked),
    marked as (
      update task_queue q set status = 'running', worker_id = p_worker
      where q.seq = any(array(select seq from picked))
      returning q.seq)
    select array_agg(seq) into v_seqs from marked;
  else
    with picked as (
      select q.seq from task_queue q
      where q.session_id = p_session and (p_session_index is null or q.session_index = p_session_index)
        and q.worker_id is null and q.run_at <= v_now
        and (q.avoid_machine_id is null or q.avoid_machine_id <> v_machine)
        and (q.avoid_labels is null or not (v_labels @> q.avoid_labels))
      order by q.session_index
      limit 1
      for update skip locked),
    marked as (
      update task_queue q set status = 'running', worker_id = p_worker
      where q.seq = any(array(select seq from picked))
      returning q.seq)
    select array_agg(seq) into v_seqs from marked;
  end if;
  if v_seqs is null then
    return '[]'::json;
  end if;
  with claimed as (
    update tasks t set status = 'running', attempt = t.attempt + 1, worker_id = p_worker,
      machine_id = v_machine,
      lease_expires_at = v_now + make_interval(secs => p_lease_ms / 1000.0),
      deadline_at = case when t.timeout_ms is null then null
        else v_now + make_interval(secs => t.timeout_ms / 1000.0) end,
      started_at = v_now, updated_at = now(), cancel_requested = false
    where t.seq = any(v_seqs) and t.status in ('queued', 'retrying')
    returning t.*)
  select json_agg(json_build_object(
      'id', c.id, 'seq', c.seq, 'type', c.type, 'queue', c.queue, 'payload', c.payload,
      'priority', c.priority, 'runAt', floor(extract(epoch from c.run_at) * 1000),
      'attempt', c.attempt, 'maxAttempts', c.max_attempts, 'timeoutMs', c.timeout_ms,
      'idempotencyKey', c.idempotency_key, 'sessionId', c.session_id, 'sessionIndex', c.session_index,
      'key', c.key, 'userId', c.user_id, 'metadata', c.metadata, 'workerId', c.worker_id,
      'leaseExpiresAt', floor(extract(epoch from c.lease_expires_at) * 1000),
      'createdAt', floor(extract(epoch from c.created_at) * 1000),
      'startedAt', floor(extract(epoch from c.started_at) * 1000))
    order by c.priority desc, c.run_at, c.seq)
  into v_out from claimed c;
  return coalesce(v_out, '[]'::json);
end $$;

-- Inserts a batch of new tasks, given as one JSON array (skipping ids, idempotency keys and session
-- slots that exist), with their defaults from the task type (backoff merges like object spread: the
-- defaults, the type's, the task's own keys), adds them to the active set, and wakes the queues they
-- went to on p_channel (none when null: the embedded store signals in process). With p_all true a
-- batch that is not inserted whole raises (SQLSTATE GF001) and leaves nothing, so a caller may try the
-- common case as one statement and resolve duplicates in a transaction only when there are some.
-- Returns one row: a JSON array, in input order, of what only the database knows of each inserted task.
create function insert_tasks(p_tasks json, p_default_max_attempts int, p_default_backoff jsonb,
  p_channel text, p_all boolean)
returns json language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan as $$
declare
  v_wanted int;
  v_got int;
  v_queues text[];
  v_out json;
begin
  with i as (
    select * from rows from (json_to_recordset(p_tasks) as (id text, type text, queue text,
      payload jsonb, priority int, "runAt" timestamptz, "delayMs" int, "maxAttempts" int, "timeoutMs" int,
      backoff jsonb, "idempotencyKey" text, "sessionId" text, "sessionIndex" int, key text, "userId" text,
      metadata jsonb)) with ordinality as u),
  ins as (
    insert into tasks (id, type, queue, payload, priority, run_at, max_attempts, timeout_ms, backoff,
      idempotency_key, session_id, session_index, key, user_id, metadata, tracking)
    select i.id, i.type, coalesce(i.queue, 'default'), coalesce(i.payload, 'null'), coalesce(i.priority, 0),
      coalesce(i."runAt", now() + make_interval(secs => coalesce(i."delayMs", 0) / 1000.0)),
      coalesce(i."maxAttempts", tt.max_attempts, p_default_max_attempts), coalesce(i."timeoutMs", tt.timeout_ms),
      case when i.backoff is null and tt.backoff is null then p_default_backoff
        else p_default_backoff || (case when jsonb_typeof(tt.backoff) = 'object' then tt.backoff else '{}' end)
          || coalesce(i.backoff, '{}') end,
      i."idempotencyKey", i."sessionId", i."sessionIndex", i.key, i."userId", coalesce(i.metadata, '{}'),
      coalesce(tt.tracking, 'track')
    from i left join task_types tt on tt.type = i.type
    order by i.ordinality
    on conflict do nothing
    returning tasks.*),
  queued as (
    insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index)
    select n.seq, 'queued', n.queue, n.type, n.priority, n.run_at, n.session_id, n.session_index from ins n)
  select count(*), array_agg(distinct n.queue),
    json_agg(json_build_object('id', n.id, 'seq', n.seq, 'runAt', floor(extract(epoch from n.run_at) * 1000),
      'maxAttempts', n.max_attempts, 'timeoutMs', n.timeout_ms, 'backoff', n.backoff, 'tracking', n.tracking,
      'createdAt', floor(extract(epoch from n.created_at) * 1000)) order by n.seq)
  into v_got, v_queues, v_out from ins n;
  if p_all then
    v_wanted := json_array_length(p_tasks);
    if v_got < v_wanted then
      raise exception '% of % tasks exist already', v_wanted - v_got, v_wanted using errcode = 'GF001';
    end if;
  end if;
  if p_channel is not null and v_queues is not null then
    perform pg_notify(p_channel, q) from unnest(v_queues) q;
  end if;
  return coalesce(v_out, '[]'::json);
end $$;

-- Completes running attempts (fenced by attempt and, when given, worker), takes them out of the
-- active set and counts them in task_throughput; returns the rows it completed, with what the
-- store's events report about them. A completion batch is often a single task, so its plan is kept.
-- The attempts are found through the primary key (= any) and matched to the input by a hash join,
-- a plan that stays right whatever the statistics say.
create function complete_tasks(p_ids text[], p_attempts int[], p_workers text[], p_results text[])
returns table (id text, attempt int, worker_id text, type text, queue text, session_id text,
  duration_ms float8, retry_ms float8) language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan
set enable_seqscan = off set enable_bitmapscan = off set enable_nestloop = off set enable_mergejoin = off as $$
#variable_conflict use_column
begin
  return query
  with input as (
    select * from unnest(p_ids, p_attempts, p_workers, p_results) as i(id, attempt, worker_id, result)),
  done as (
    update tasks t set status = 'completed', result = i.result::jsonb, finished_at = now(), updated_at = now(),
      lease_expires_at = null, deadline_at = null,
      retry_history = case when t.manual_retries > 0 then close_retry_history(t.retry_history, 'completed')
        else t.retry_history end
    from input i
    where t.id = any(p_ids) and t.id = i.id and t.attempt = i.attempt and t.status = 'running'
      and (i.worker_id is null or t.worker_id = i.worker_id)
    returning t.seq, t.id, t.attempt, t.worker_id, t.type, t.queue, t.session_id,
      (extract(epoch from now() - t.started_at) * 1000)::float8 as duration_ms,
      case when t.manual_retries > 0
        then (extract(epoch from now() - (t.retry_history -> -1 ->> 'at')::timestamptz) * 1000)::float8
      end as retry_ms),
  gone as (
    delete from task_queue q where q.seq = any(array(select d.seq from done d))),
  counted as (
    insert into task_throughput as tp (minute, node, completed)
    select date_trunc('minute', now()), pg_backend_pid(), count(*) from done having count(*) > 0
    on conflict (minute, node) do update set completed = tp.completed + excluded.completed)
  select d.id, d.attempt, d.worker_id, d.type, d.queue, d.session_id, d.duration_ms, d.retry_ms from done d;
end $$;

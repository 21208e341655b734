-- Gaffer schema, version 4: the hot path (issue 6; measurements in docs/BENCHMARKS.md).
--
-- A claim and a completion each rewrite their task's row. Before this version every such rewrite
-- was a new row version in every index of tasks, because status, worker_id and finished_at were
-- indexed (tasks_runnable, tasks_running_worker, tasks_status_seq, tasks_finished). Now no index of
-- tasks covers a column that a claim, a heartbeat or a completion changes, so those rewrites are
-- HOT (heap-only) updates that touch no index, with room kept for them on each page (fillfactor).
-- What the dropped indexes found is kept in two small tables instead:
--   task_queue   the runnable tasks (queued, retrying), in claim order; a claim deletes its rows;
--   task_claims  one row per claim: which worker took which tasks, and how many still run. The
--                running tasks are the tasks of open claims whose claim_id is still that claim.
--
-- The happy path's history (created, claimed, completed) is no longer written as rows: the task row
-- holds it (created_at; attempt, worker_id, started_at; finished_at) and getTaskEvents reads it from
-- there. Every other event is still a row, and a claim is written as a row as soon as its attempt
-- ends any other way (failed, lost, timed out, cancelled, handed back). Rows written by earlier
-- versions stay valid: a kind already recorded is not derived again.

-- The runnable tasks, keyed by the task's seq, with what a claim filters and orders on.
create table task_queue (
  seq bigint primary key,
  status text not null check (status in ('queued', 'retrying')),
  queue text not null,
  type text not null,
  priority int not null,
  run_at timestamptz not null,
  session_id text,
  session_index int,
  avoid_machine_id text,
  avoid_labels jsonb
);
-- Claim order.
create index task_queue_runnable on task_queue (priority desc, run_at, seq);
-- Claim of assignment N of a session.
create index task_queue_session on task_queue (session_id, session_index) where session_id is not null;

-- The claims: `open` counts the claim's tasks still running under it; the statement that ends the
-- last of them deletes the row.
create table task_claims (
  id bigint generated always as identity primary key,
  worker_id text not null,
  claimed_at timestamptz not null,
  seqs bigint[] not null,
  open int not null
);
create index task_claims_worker on task_claims (worker_id);

-- The claim a task runs (or last ran) under.
alter table tasks add column claim_id bigint;

insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index, avoid_machine_id,
  avoid_labels)
select seq, status, queue, type, priority, run_at, session_id, session_index, avoid_machine_id, avoid_labels
from tasks where status in ('queued', 'retrying');

-- Tasks running when this migration runs: one claim per worker.
with running as (
  select worker_id, array_agg(seq) as seqs, count(*)::int as n, min(started_at) as at
  from tasks where status = 'running' group by worker_id),
claims as (
  insert into task_claims (worker_id, claimed_at, seqs, open)
  select coalesce(worker_id, ''), coalesce(at, now()), seqs, n from running
  returning id, seqs)
update tasks t set claim_id = c.id from claims c where t.seq = any(c.seqs);

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

-- Attempts that stop running leave their claim: its open count drops, and a claim left with none
-- is deleted. Called by every statement that ends running attempts.
create function release_claims(p_claims bigint[]) returns void language plpgsql
set search_path from current as $$
declare
  v_closed bigint[];
begin
  with ended as (
    select c, count(*)::int as n from unnest(p_claims) c where c is not null group by c),
  released as (
    update task_claims tc set open = tc.open - e.n from ended e where tc.id = e.c returning tc.id, tc.open)
  select array_agg(id) into v_closed from released where open <= 0;
  if v_closed is not null then
    delete from task_claims where id = any(v_closed);
  end if;
end $$;

-- Deleting tasks deletes their history, their place in the queue and their part in a claim, once
-- per statement.
create or replace function tasks_delete_events() returns trigger language plpgsql set search_path from current as $$
begin
  delete from task_events e using deleted_tasks d where e.task_id = d.id;
  delete from task_queue q using deleted_tasks d where q.seq = d.seq;
  perform release_claims(array(select d.claim_id from deleted_tasks d where d.status = 'running'));
  return null;
end $$;

drop function claim_tasks(text, timestamptz, int, int, text[], text[], int, text, int);
drop function insert_tasks(text[], text[], text[], text[], int[], timestamptz[], int[], int[], int[], text[],
  text[], text[], int[], text[], text[], text[], int, jsonb);
drop function complete_tasks(text[], int[], text[], text[]);

-- The hot path's functions keep their plans per connection (plan_cache_mode), pin the planner to
-- plans that stay right at any table size and with no statistics at all (the enable_* settings),
-- and never JIT-compile: a plan priced by a disabled node type looks expensive enough to be
-- compiled on every call, which costs hundreds of milliseconds (measured: 0.4 s per completion).

-- Claims up to p_limit tasks the worker may run (or one task of a session: the one at
-- p_session_index, else its lowest free index): takes them out of the queue, records the claim, and
-- starts an attempt on each (attempt + 1 is the fencing token, the lease runs from now). Returns the
-- tasks with only what a worker needs, times in epoch ms (node-pg parses timestamptz text slowly);
-- raises GF002 if the worker is not live.
--
-- The claim commits asynchronously (synchronous_commit off for its transaction): a claim lost in a
-- database crash only puts its tasks back in the queue with the attempt they had, to be claimed
-- again; at-least-once holds, and fencing refuses the earlier holder's writes (its worker id no
-- longer matches). Creates, completions and failures stay synchronous, and a synchronous commit
-- flushes every claim before it. This saves a WAL flush per claim on the pickup path.
create function claim_tasks(p_worker text, p_now timestamptz, p_stale_ms int, p_lease_ms int,
  p_types text[], p_queues text[], p_limit int, p_session text, p_session_index int)
returns table (id text, seq bigint, type text, queue text, payload jsonb, priority int, run_at bigint,
  attempt int, max_attempts int, timeout_ms int, idempotency_key text, session_id text, session_index int,
  key text, user_id text, metadata jsonb, created_at bigint, started_at bigint)
language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan set jit = off
set enable_seqscan = off set enable_bitmapscan = off set enable_sort = off as $$
#variable_conflict use_column
declare
  v_now timestamptz := coalesce(p_now, now());
  v_machine text;
  v_labels jsonb;
  v_seqs bigint[];
  v_claim bigint;
  v_n int;
begin
  perform set_config('synchronous_commit', 'off', true);
  select w.machine_id, w.labels into v_machine, v_labels from workers w
  where w.id = p_worker and w.stale_at is null
    and w.last_heartbeat_at > v_now - make_interval(secs => p_stale_ms / 1000.0);
  if not found then
    raise exception 'worker % is not live', p_worker using errcode = 'GF002';
  end if;
  if p_session is null then
    with picked as (
      select q.seq from task_queue q
      where q.run_at <= v_now
        and (p_types is null or q.type = any(p_types))
        and (p_queues is null or q.queue = any(p_queues))
        and (q.avoid_machine_id is null or q.avoid_machine_id <> v_machine)
        and (q.avoid_labels is null or not (v_labels @> q.avoid_labels))
      order by q.priority desc, q.run_at, q.seq
      limit p_limit
      for update skip locked),
    taken as (delete from task_queue q where q.seq = any(array(select seq from picked)) returning q.seq)
    select array_agg(taken.seq) into v_seqs from taken;
  else
    with picked as (
      select q.seq from task_queue q
      where q.session_id = p_session and (p_session_index is null or q.session_index = p_session_index)
        and q.run_at <= v_now
        and (q.avoid_machine_id is null or q.avoid_machine_id <> v_machine)
        and (q.avoid_labels is null or not (v_labels @> q.avoid_labels))
      order by q.session_index
      limit 1
      for update skip locked),
    taken as (delete from task_queue q where q.seq = any(array(select seq from picked)) returning q.seq)
    select array_agg(taken.seq) into v_seqs from taken;
  end if;
  if v_seqs is null then
    return;
  end if;
  insert into task_claims (worker_id, claimed_at, seqs, open)
  values (p_worker, v_now, v_seqs, cardinality(v_seqs)) returning task_claims.id into v_claim;
  return query
  update tasks t set status = 'running', attempt = t.attempt + 1, worker_id = p_worker,
    machine_id = v_machine, claim_id = v_claim,
    lease_expires_at = v_now + make_interval(secs => p_lease_ms / 1000.0),
    deadline_at = case when t.timeout_ms is null then null
      else v_now + make_interval(secs => t.timeout_ms / 1000.0) end,
    started_at = v_now, updated_at = now(), cancel_requested = false
  where t.seq = any(v_seqs) and t.status in ('queued', 'retrying')
  returning t.id, t.seq, t.type, t.queue, t.payload, t.priority, (date_part('epoch', t.run_at) * 1000)::int8,
    t.attempt, t.max_attempts, t.timeout_ms, t.idempotency_key, t.session_id, t.session_index, t.key,
    t.user_id, t.metadata, (date_part('epoch', t.created_at) * 1000)::int8, (date_part('epoch', v_now) * 1000)::int8;
  get diagnostics v_n = row_count;
  if v_n < cardinality(v_seqs) then
    update task_claims set open = v_n where task_claims.id = v_claim;
  end if;
end $$;

-- The rows of a batch of new tasks given as one JSON array, with their defaults from the task type
-- (backoff merges like object spread: the defaults, the type's, the task's own keys), in input
-- order: the type is looked up per task (a lateral join kept from becoming a hash join by offset 0),
-- so the seqs they get follow the input. A plain SQL function, inlined where it is used.
create function new_task_rows(p_tasks json, p_default_max_attempts int, p_default_backoff jsonb)
returns table (id text, type text, queue text, payload jsonb, priority int, run_at timestamptz,
  max_attempts int, timeout_ms int, backoff jsonb, idempotency_key text, session_id text, session_index int,
  key text, user_id text, metadata jsonb, tracking text)
language sql stable as $$
  select i.id, i.type, coalesce(i.queue, 'default'), coalesce(i.payload, 'null'), coalesce(i.priority, 0),
    coalesce(i."runAt", now() + make_interval(secs => coalesce(i."delayMs", 0) / 1000.0)),
    coalesce(i."maxAttempts", tt.max_attempts, p_default_max_attempts), coalesce(i."timeoutMs", tt.timeout_ms),
    case when i.backoff is null and tt.backoff is null then p_default_backoff
      else p_default_backoff || (case when jsonb_typeof(tt.backoff) = 'object' then tt.backoff else '{}' end)
        || coalesce(i.backoff, '{}') end,
    i."idempotencyKey", i."sessionId", i."sessionIndex", i.key, i."userId", coalesce(i.metadata, '{}'),
    coalesce(tt.tracking, 'track')
  from json_to_recordset(p_tasks) as i(id text, type text, queue text, payload jsonb, priority int,
    "runAt" timestamptz, "delayMs" int, "maxAttempts" int, "timeoutMs" int, backoff jsonb, "idempotencyKey" text,
    "sessionId" text, "sessionIndex" int, key text, "userId" text, metadata jsonb)
  left join lateral (select * from task_types t where t.type = i.type offset 0) tt on true
$$;

-- Inserts a batch of new tasks (new_task_rows), queues them, and wakes the queues they went to on
-- p_channel (none when null: the embedded store signals in process). Returns, for each task
-- inserted, what only the database knows of it (times in epoch ms).
--
-- With p_all false it skips ids, idempotency keys and session slots that exist (ON CONFLICT DO
-- NOTHING). With p_all true a batch that is not inserted whole raises (23505 at the first task that
-- exists, or GF001) and leaves nothing, so a caller may try the common case as one statement and
-- resolve duplicates in a transaction only when there are some; that insert has no ON CONFLICT,
-- whose check before every row probes each unique index once more. The two statements differ only
-- in that clause, which SQL cannot make conditional.
create function insert_tasks(p_tasks json, p_default_max_attempts int, p_default_backoff jsonb,
  p_channel text, p_all boolean)
returns table (id text, seq bigint, run_at bigint, max_attempts int, timeout_ms int, backoff text,
  tracking text, created_at bigint)
language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan set jit = off as $$
#variable_conflict use_column
declare
  v_wanted int;
  v_got int;
begin
  if p_all then
    return query
    with ins as (
      insert into tasks (id, type, queue, payload, priority, run_at, max_attempts, timeout_ms, backoff,
        idempotency_key, session_id, session_index, key, user_id, metadata, tracking)
      select * from new_task_rows(p_tasks, p_default_max_attempts, p_default_backoff)
      returning tasks.id, tasks.seq, tasks.queue, tasks.type, tasks.priority, tasks.run_at, tasks.session_id,
        tasks.session_index, tasks.max_attempts, tasks.timeout_ms, tasks.backoff, tasks.tracking, tasks.created_at),
    queued as (
      insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index)
      select n.seq, 'queued', n.queue, n.type, n.priority, n.run_at, n.session_id, n.session_index from ins n),
    woken as (
      select count(pg_notify(p_channel, q.queue)) as n from (select distinct n.queue from ins n) q
      where p_channel is not null)
    select n.id, n.seq, (date_part('epoch', n.run_at) * 1000)::int8, n.max_attempts, n.timeout_ms,
      n.backoff::text, n.tracking, (date_part('epoch', n.created_at) * 1000)::int8
    from ins n, woken;
    get diagnostics v_got = row_count;
    v_wanted := json_array_length(p_tasks);
    if v_got < v_wanted then
      raise exception '% of % tasks exist already', v_wanted - v_got, v_wanted using errcode = 'GF001';
    end if;
    return;
  end if;
  return query
  with ins as (
    insert into tasks (id, type, queue, payload, priority, run_at, max_attempts, timeout_ms, backoff,
      idempotency_key, session_id, session_index, key, user_id, metadata, tracking)
    select * from new_task_rows(p_tasks, p_default_max_attempts, p_default_backoff)
    on conflict do nothing
    returning tasks.id, tasks.seq, tasks.queue, tasks.type, tasks.priority, tasks.run_at, tasks.session_id,
      tasks.session_index, tasks.max_attempts, tasks.timeout_ms, tasks.backoff, tasks.tracking, tasks.created_at),
  queued as (
    insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index)
    select n.seq, 'queued', n.queue, n.type, n.priority, n.run_at, n.session_id, n.session_index from ins n),
  woken as (
    select count(pg_notify(p_channel, q.queue)) as n from (select distinct n.queue from ins n) q
    where p_channel is not null)
  select n.id, n.seq, (date_part('epoch', n.run_at) * 1000)::int8, n.max_attempts, n.timeout_ms,
    n.backoff::text, n.tracking, (date_part('epoch', n.created_at) * 1000)::int8
  from ins n, woken;
end $$;

-- Completes running attempts, fenced by attempt and, when given, worker. Each attempt is found by
-- its seq when the worker sends it back (a bigint lookup) and by its id otherwise; the id must match
-- either way. Releases their claims and counts them in task_throughput. Returns the completed
-- attempts: with p_detail, with what the store's events report about them, else their ids alone.
-- A completion batch is often a single task, so its plan is kept; the attempts are matched to the
-- input by a hash join, a plan that stays right whatever the statistics say.
create function complete_tasks(p_ids text[], p_seqs bigint[], p_attempts int[], p_workers text[],
  p_results text[], p_detail boolean)
returns table (id text, attempt int, worker_id text, type text, queue text, session_id text,
  duration_ms float8, retry_ms float8)
language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan set jit = off
set enable_seqscan = off set enable_bitmapscan = off set enable_nestloop = off set enable_mergejoin = off as $$
#variable_conflict use_column
begin
  return query
  with input as (
    select * from unnest(p_ids, p_seqs, p_attempts, p_workers, p_results) as i(id, seq, attempt, worker_id, result)),
  found as (
    select coalesce(i.seq, (select t.seq from tasks t where t.id = i.id)) as seq, i.id, i.attempt, i.worker_id,
      i.result
    from input i),
  done as (
    update tasks t set status = 'completed', result = f.result::jsonb, finished_at = now(), updated_at = now(),
      lease_expires_at = null, deadline_at = null,
      retry_history = case when t.manual_retries > 0 then close_retry_history(t.retry_history, 'completed')
        else t.retry_history end
    from found f
    where t.seq = any(array(select seq from found)) and t.seq = f.seq and t.id = f.id and t.attempt = f.attempt
      and t.status = 'running' and (f.worker_id is null or t.worker_id = f.worker_id)
    returning t.claim_id, t.id, t.attempt, t.worker_id, t.type, t.queue, t.session_id,
      date_part('epoch', now() - t.started_at) * 1000 as duration_ms,
      case when t.manual_retries > 0
        then date_part('epoch', now() - (t.retry_history -> -1 ->> 'at')::timestamptz) * 1000
      end as retry_ms),
  counted as (
    insert into task_throughput as tp (minute, node, completed)
    select date_trunc('minute', now()), pg_backend_pid(), count(*) from done having count(*) > 0
    on conflict (minute, node) do update set completed = tp.completed + excluded.completed),
  released as (select release_claims(array_agg(d.claim_id)) from done d)
  select d.id, d.attempt, d.worker_id, d.type, d.queue, d.session_id, d.duration_ms, d.retry_ms
  from done d, released where p_detail
  union all
  select d.id, null, null, null, null, null, null, null from done d, released where not p_detail;
end $$;

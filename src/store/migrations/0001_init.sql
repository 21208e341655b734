-- Gaffer schema, version 1. Applied by store/migrate.ts inside one transaction under an
-- advisory lock, with search_path set to the configured schema.

create table task_types (
  type text primary key,
  tracking text not null default 'track' check (tracking in ('track', 'hold', 'none')),
  max_attempts int check (max_attempts between 1 and 1000),
  timeout_ms int check (timeout_ms > 0),
  backoff jsonb,
  payload_schema jsonb,
  updated_at timestamptz not null default now()
);

create table sessions (
  id text primary key,
  seq bigint generated always as identity,
  key text,
  user_id text,
  metadata jsonb not null default '{}',
  task_count int not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index sessions_key on sessions (key, seq) where key is not null;
create index sessions_seq on sessions (seq);
create index sessions_user on sessions (user_id) where user_id is not null;
create index sessions_created on sessions (created_at);

create table tasks (
  id text primary key,
  seq bigint generated always as identity,
  type text not null,
  queue text not null default 'default',
  status text not null default 'queued'
    check (status in ('queued', 'running', 'retrying', 'completed', 'failed', 'cancelled')),
  payload jsonb not null default 'null',
  priority int not null default 0,
  run_at timestamptz not null default now(),
  attempt int not null default 0,
  max_attempts int not null default 3,
  attempt_floor int not null default 0,
  timeout_ms int,
  backoff jsonb not null,
  idempotency_key text,
  session_id text references sessions (id) on delete cascade,
  session_index int,
  key text,
  user_id text,
  metadata jsonb not null default '{}',
  worker_id text,
  machine_id text,
  lease_expires_at timestamptz,
  deadline_at timestamptz,
  result jsonb,
  error jsonb,
  progress jsonb,
  manual_retries int not null default 0,
  retry_history jsonb not null default '[]',
  avoid_machine_id text,
  avoid_labels jsonb,
  cancel_requested boolean not null default false,
  tracking text not null default 'track',
  entry_released_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
) with (fillfactor = 80);

-- Uniqueness of idempotency keys and session slots. Partial, so the many tasks without
-- them add no index entries: every create, claim and completion writes fewer index tuples.
create unique index tasks_idempotency_key on tasks (idempotency_key) where idempotency_key is not null;
create unique index tasks_session_index on tasks (session_id, session_index) where session_id is not null;

-- Claim order: priority, then run-at, then creation; only runnable rows are indexed.
create index tasks_runnable on tasks (priority desc, run_at, seq) where status in ('queued', 'retrying');
-- Lease rescue and heartbeats look at running rows only.
create index tasks_running_worker on tasks (worker_id) where status = 'running';
create index tasks_status_seq on tasks (status, seq);
create index tasks_type_seq on tasks (type, seq);
create index tasks_key on tasks (key) where key is not null;
create index tasks_user on tasks (user_id) where user_id is not null;
create index tasks_finished on tasks (finished_at) where finished_at is not null;

-- History of every task. task_id is not a foreign key: events are only ever written by the
-- statement that changes their task, and a row-level RI check per event costs as much as the
-- event itself on the claim and complete paths. Deleting tasks still deletes their history,
-- once per statement (tasks_delete_events below).
-- Keyed by task, then by order: the one index every read uses (a task's history), and one
-- index entry per event rather than two.
create table task_events (
  id bigint generated always as identity,
  task_id text not null,
  attempt int not null,
  kind text not null,
  at timestamptz not null default now(),
  worker_id text,
  data jsonb,
  primary key (task_id, id)
);

create function tasks_delete_events() returns trigger language plpgsql set search_path from current as $$
begin
  delete from task_events e using deleted_tasks d where e.task_id = d.id;
  return null;
end $$;
create trigger tasks_delete_events after delete on tasks
  referencing old table as deleted_tasks for each statement execute function tasks_delete_events();

create table workers (
  id text primary key,
  name text,
  machine_id text not null,
  hostname text,
  pid int,
  version text,
  types text[] not null default '{}',
  queues text[] not null default '{}',
  concurrency int not null default 1,
  labels jsonb not null default '{}',
  state jsonb,
  stats jsonb,
  registered_at timestamptz not null default now(),
  last_heartbeat_at timestamptz not null default now(),
  stale_at timestamptz,
  stale_reason text,
  deregistered_at timestamptz
);
create index workers_live on workers (machine_id, name) where stale_at is null;
create index workers_stale_at on workers (stale_at) where stale_at is not null;

create table worker_events (
  id bigint generated always as identity primary key,
  worker_id text not null references workers (id) on delete cascade,
  kind text not null,
  at timestamptz not null default now(),
  data jsonb
);
create index worker_events_worker on worker_events (worker_id, id);

-- The hot path as functions: PostgreSQL keeps a function's plans for the life of the connection,
-- so a claim or a create is planned once rather than per call (planning these statements costs
-- more than running them for one task). Their planner settings pin the plans that stay right at
-- any table size and with no statistics at all (a table loaded a moment ago has none): claims
-- walk tasks_runnable in claim order and stop at the limit, rather than sorting every runnable row.

-- Claims up to p_limit runnable tasks the worker may run (or one task of a session: the one at
-- p_session_index, else its lowest free index), starts an attempt on each (attempt + 1 is the
-- fencing token, the lease runs from now) and records `claimed`. Nothing if the worker is not live.
create function claim_tasks(p_worker text, p_now timestamptz, p_stale_ms int, p_lease_ms int,
  p_types text[], p_queues text[], p_limit int, p_session text, p_session_index int)
returns setof tasks language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan
set enable_seqscan = off set enable_bitmapscan = off set enable_sort = off as $$
begin
  if p_session is null then
    return query
    with worker as (
      select w.machine_id, w.labels from workers w
      where w.id = p_worker and w.stale_at is null
        and w.last_heartbeat_at > coalesce(p_now, now()) - make_interval(secs => p_stale_ms / 1000.0)),
    picked as (
      select t.id from tasks t
      where t.status in ('queued', 'retrying') and t.run_at <= coalesce(p_now, now())
        and (p_types is null or t.type = any(p_types))
        and (p_queues is null or t.queue = any(p_queues))
        and exists (select 1 from worker)
        and (t.avoid_machine_id is null or t.avoid_machine_id <> (select machine_id from worker))
        and (t.avoid_labels is null or not ((select labels from worker) @> t.avoid_labels))
      order by t.priority desc, t.run_at, t.seq
      limit p_limit
      for update skip locked),
    claimed as (
      update tasks t set status = 'running', attempt = t.attempt + 1, worker_id = p_worker,
        machine_id = (select machine_id from worker),
        lease_expires_at = coalesce(p_now, now()) + make_interval(secs => p_lease_ms / 1000.0),
        deadline_at = case when t.timeout_ms is null then null
          else coalesce(p_now, now()) + make_interval(secs => t.timeout_ms / 1000.0) end,
        started_at = coalesce(p_now, now()), updated_at = now(), cancel_requested = false
      where t.id = any(array(select id from picked))
      returning t.*),
    ev as (
      insert into task_events (task_id, attempt, kind, worker_id)
      select c.id, c.attempt, 'claimed', c.worker_id from claimed c)
    select * from claimed;
  else
    return query
    with worker as (
      select w.machine_id, w.labels from workers w
      where w.id = p_worker and w.stale_at is null
        and w.last_heartbeat_at > coalesce(p_now, now()) - make_interval(secs => p_stale_ms / 1000.0)),
    picked as (
      select t.id from tasks t
      where t.session_id = p_session and (p_session_index is null or t.session_index = p_session_index)
        and t.status in ('queued', 'retrying') and t.run_at <= coalesce(p_now, now())
        and exists (select 1 from worker)
        and (t.avoid_machine_id is null or t.avoid_machine_id <> (select machine_id from worker))
        and (t.avoid_labels is null or not ((select labels from worker) @> t.avoid_labels))
      order by t.session_index
      limit 1
      for update skip locked),
    claimed as (
      update tasks t set status = 'running', attempt = t.attempt + 1, worker_id = p_worker,
        machine_id = (select machine_id from worker),
        lease_expires_at = coalesce(p_now, now()) + make_interval(secs => p_lease_ms / 1000.0),
        deadline_at = case when t.timeout_ms is null then null
          else coalesce(p_now, now()) + make_interval(secs => t.timeout_ms / 1000.0) end,
        started_at = coalesce(p_now, now()), updated_at = now(), cancel_requested = false
      where t.id = any(array(select id from picked))
      returning t.*),
    ev as (
      insert into task_events (task_id, attempt, kind, worker_id)
      select c.id, c.attempt, 'claimed', c.worker_id from claimed c)
    select * from claimed;
  end if;
end $$;

-- Inserts a batch of new tasks (skipping ids, idempotency keys and session slots that exist),
-- with their defaults from the task type (backoff merges like object spread: the defaults, the
-- type's, the task's own keys), and records `created` for each; returns the rows inserted.
create function insert_tasks(p_ids text[], p_types text[], p_queues text[], p_payloads text[],
  p_priorities int[], p_run_ats timestamptz[], p_delays int[], p_max_attempts int[], p_timeouts int[],
  p_backoffs text[], p_idempotency_keys text[], p_session_ids text[], p_session_indexes int[],
  p_keys text[], p_user_ids text[], p_metadata text[], p_default_max_attempts int, p_default_backoff jsonb)
returns setof tasks language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan as $$
begin
  return query
  with i as (
    select * from unnest(p_ids, p_types, p_queues, p_payloads, p_priorities, p_run_ats, p_delays,
      p_max_attempts, p_timeouts, p_backoffs, p_idempotency_keys, p_session_ids, p_session_indexes, p_keys,
      p_user_ids, p_metadata)
      with ordinality as u(id, type, queue, payload, priority, run_at, delay_ms, max_attempts, timeout_ms,
        backoff, idempotency_key, session_id, session_index, key, user_id, metadata, ord)),
  ins as (
    insert into tasks (id, type, queue, payload, priority, run_at, max_attempts, timeout_ms, backoff,
      idempotency_key, session_id, session_index, key, user_id, metadata, tracking)
    select i.id, i.type, i.queue, i.payload::jsonb, i.priority,
      coalesce(i.run_at, now() + make_interval(secs => coalesce(i.delay_ms, 0) / 1000.0)),
      coalesce(i.max_attempts, tt.max_attempts, p_default_max_attempts), coalesce(i.timeout_ms, tt.timeout_ms),
      p_default_backoff || (case when jsonb_typeof(tt.backoff) = 'object' then tt.backoff else '{}' end)
        || coalesce(i.backoff::jsonb, '{}'),
      i.idempotency_key, i.session_id, i.session_index, i.key, i.user_id, i.metadata::jsonb,
      coalesce(tt.tracking, 'track')
    from i left join task_types tt on tt.type = i.type
    order by i.ord
    on conflict do nothing
    returning tasks.*),
  ev as (
    insert into task_events (task_id, attempt, kind, data)
    select n.id, 0, 'created', null from ins n order by n.seq)
  select * from ins;
end $$;

-- Sets the outcome of the newest manual retry in a task's history, if it has none yet. Stable, as
-- its body is (to_jsonb), so the planner inlines it into the completion.
create function close_retry_history(h jsonb, outcome text) returns jsonb language sql stable as $$
  select case when jsonb_array_length(h) > 0 and (h -> -1 ->> 'outcome') is null
    then jsonb_set(h, array[(jsonb_array_length(h) - 1)::text, 'outcome'], to_jsonb(outcome))
    else h end
$$;

-- Completes running attempts (fenced by attempt and, when given, worker) and records `completed`
-- for each; returns the rows it completed, with what the store's events report about them.
-- A completion batch is often a single task, so its plan is kept too.
create function complete_tasks(p_ids text[], p_attempts int[], p_workers text[], p_results text[])
returns table (id text, attempt int, worker_id text, type text, queue text, session_id text,
  duration_ms float8, retry_ms float8) language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan
set enable_seqscan = off set enable_bitmapscan = off set enable_hashjoin = off set enable_mergejoin = off as $$
#variable_conflict use_column
begin
  return query
  with input as (
    select * from unnest(p_ids, p_attempts, p_workers, p_results) as i(id, attempt, worker_id, result)),
  done as (
    update tasks t set status = 'completed', result = i.result::jsonb, finished_at = now(), updated_at = now(),
      lease_expires_at = null, deadline_at = null,
      retry_history = close_retry_history(t.retry_history, 'completed')
    from input i
    where t.id = i.id and t.attempt = i.attempt and t.status = 'running'
      and (i.worker_id is null or t.worker_id = i.worker_id)
    returning t.id, t.attempt, t.worker_id, t.type, t.queue, t.session_id,
      (extract(epoch from now() - t.started_at) * 1000)::float8 as duration_ms,
      case when t.manual_retries > 0
        then (extract(epoch from now() - (t.retry_history -> -1 ->> 'at')::timestamptz) * 1000)::float8
      end as retry_ms),
  ev as (
    insert into task_events (task_id, attempt, kind, worker_id)
    select d.id, d.attempt, 'completed', d.worker_id from done d)
  select d.id, d.attempt, d.worker_id, d.type, d.queue, d.session_id, d.duration_ms, d.retry_ms from done d;
end $$;

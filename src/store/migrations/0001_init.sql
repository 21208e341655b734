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

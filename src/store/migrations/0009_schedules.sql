-- Gaffer schema, version 9: schedules (issue 15, item 1). A schedule creates one task of its type
-- per tick, a cron expression in a time zone or every N ms from an anchor. Every server's scheduler
-- fires due schedules; a tick's task carries the idempotency key schedule:<name>:<tick ISO>, so a
-- tick makes one task however many servers fire it, and the row lock (FOR UPDATE SKIP LOCKED)
-- keeps them from even trying at once. next_run_at is the first tick not yet fired.
create table schedules (
  name text primary key,
  cron text,
  every_ms bigint,
  timezone text not null default 'UTC',
  anchor_at timestamptz not null default now(),
  type text not null,
  payload jsonb not null default 'null',
  -- queue, priority, maxAttempts, timeoutMs, backoff, metadata, key, userId of every task it creates.
  task_options jsonb not null default '{}',
  -- skip: ticks missed in a downtime are not run; run: the newest catch_up_limit of them run.
  catch_up text not null default 'skip' check (catch_up in ('skip', 'run')),
  catch_up_limit int not null default 10 check (catch_up_limit between 1 and 1000),
  paused boolean not null default false,
  next_run_at timestamptz,
  last_tick_at timestamptz,
  last_task_id text,
  runs bigint not null default 0,
  skipped bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((cron is null) <> (every_ms is null))
);

-- The scheduler's one read: the due, active schedules, earliest first.
create index schedules_due on schedules (next_run_at) where not paused and next_run_at is not null;

-- What happened to a schedule besides its routine ticks (whose record is the tasks they created):
-- created, updated, paused, resumed, and ticks skipped or caught up after a downtime.
create table schedule_events (
  id bigserial primary key,
  schedule text not null references schedules (name) on delete cascade,
  kind text not null,
  data jsonb not null default '{}',
  at timestamptz not null default now()
);
create index schedule_events_schedule on schedule_events (schedule, id);

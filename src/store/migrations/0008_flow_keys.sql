-- Gaffer schema, version 8: debounce and throttle keys (issue 14, item 5).
--
-- A create with `debounce: {key, ms}` or `throttle: {key, ms}` goes through the key's one row here,
-- per (task type, key): the primary key makes concurrent creates of one key, on any server, wait on
-- that row, so a key never gets two tasks where it should have one. Creates without a key never
-- touch these tables (insert_tasks is unchanged).

-- The key's latest task. While that task is queued, a create of the key replaces its payload and
-- pushes its run time; once it runs (or is gone) the next create makes the key's next task.
create table task_debounce (
  type text not null,
  key text not null,
  task_id text not null,
  primary key (type, key)
);

-- The key's task of its current window, open until `until`.
create table task_throttle (
  type text not null,
  key text not null,
  task_id text not null,
  until timestamptz not null,
  primary key (type, key)
);
-- Retention removes windows that closed.
create index task_throttle_until on task_throttle (until);

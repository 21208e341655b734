-- Gaffer schema, version 6: counts that cost the same at any table size (issue 18; the numbers that
-- chose this design are in docs/ARCHITECTURE.md, "Counters").
--
-- The overview, /stats, the live feed and /metrics read tasks per queue, type and status. Counting
-- them with count(*) ... group by reads every row (half a second at 1M rows). Instead every statement
-- that inserts, updates or deletes tasks adds what it changed to task_counts, in its own transaction,
-- from a statement-level trigger (one place, whatever the statement): the counts are exact for every
-- status, and every server on the database reads the same numbers.
--
-- Hot rows: a claim and a completion each change two counts of their queue and type. One row per
-- count would make every concurrent claim and completion of a queue wait for the others' row lock
-- until they commit. So, as task_throughput does, each database connection (backend pid) adds to
-- rows of its own (`node`): a transaction only ever locks rows of its connection, which no other
-- transaction writes. A count is the sum over nodes. Maintenance folds the rows of connections that
-- are gone into node 0 (fold_task_counts), so the rows stay as many as live connections times counts.

create table task_counts (
  queue text not null,
  type text not null,
  status text not null,
  node int not null,
  n bigint not null,
  primary key (queue, type, status, node)
);

-- Each trigger adds its statement's changes, grouped by count, to this connection's rows, in one
-- statement of its own (planned once per connection, as plpgsql keeps its plans).
create function task_counts_inserted() returns trigger language plpgsql set search_path from current as $$
begin
  insert into task_counts as c (queue, type, status, node, n)
  select queue, type, status, pg_backend_pid(), count(*) from new_tasks group by 1, 2, 3
  on conflict (queue, type, status, node) do update set n = c.n + excluded.n;
  return null;
end $$;

create function task_counts_deleted() returns trigger language plpgsql set search_path from current as $$
begin
  insert into task_counts as c (queue, type, status, node, n)
  select queue, type, status, pg_backend_pid(), -count(*) from old_tasks group by 1, 2, 3
  on conflict (queue, type, status, node) do update set n = c.n + excluded.n;
  return null;
end $$;

-- An update changes a count only when it changes a task's status (or, never in practice, its queue
-- or type): the old rows leave their counts, the new ones join theirs, and what cancels out (a
-- heartbeat, a progress report) writes nothing.
create function task_counts_updated() returns trigger language plpgsql set search_path from current as $$
begin
  insert into task_counts as c (queue, type, status, node, n)
  select x.queue, x.type, x.status, pg_backend_pid(), sum(x.n) from (
    select o.queue, o.type, o.status, -1 as n from old_tasks o
    union all
    select w.queue, w.type, w.status, 1 from new_tasks w) x
  group by 1, 2, 3 having sum(x.n) <> 0
  on conflict (queue, type, status, node) do update set n = c.n + excluded.n;
  return null;
end $$;

-- Counted from the tasks as they are, with their writers kept out until this commits.
lock table tasks in share row exclusive mode;
insert into task_counts (queue, type, status, node, n)
select queue, type, status, 0, count(*) from tasks group by 1, 2, 3;

create trigger tasks_count_inserted after insert on tasks
  referencing new table as new_tasks for each statement execute function task_counts_inserted();
create trigger tasks_count_deleted after delete on tasks
  referencing old table as old_tasks for each statement execute function task_counts_deleted();
create trigger tasks_count_updated after update on tasks
  referencing old table as old_tasks new table as new_tasks for each statement
  execute function task_counts_updated();

-- Folds the rows of connections that are gone into node 0, and drops counts that are zero. Rows of
-- live connections are left alone, so folding never waits for the hot path's row locks (it would be
-- as correct if it did: the fold and the count it moves are one transaction). Returns the rows folded.
create function fold_task_counts() returns int language plpgsql set search_path from current as $$
declare
  v_n int;
begin
  with gone as (
    delete from task_counts c
    where c.node <> 0 and c.node <> pg_backend_pid()
      and not exists (select 1 from pg_stat_activity a where a.pid = c.node)
    returning c.queue, c.type, c.status, c.n),
  folded as (
    insert into task_counts as c (queue, type, status, node, n)
    select g.queue, g.type, g.status, 0, sum(g.n) from gone g group by 1, 2, 3
    on conflict (queue, type, status, node) do update set n = c.n + excluded.n
    returning 1)
  select count(*) into v_n from gone;
  delete from task_counts c where c.n = 0 and c.node = 0;
  return v_n;
end $$;

-- The oldest runnable task and the tasks scheduled for later, per queue, type and status, read by
-- index from the first entry (and the entries past now) of each count the overview shows, so those
-- reads too are independent of the backlog's size.
create index task_queue_counts on task_queue (queue, type, status, run_at);

-- The fleet listing, newest registration first, a page at a time (keyset on registered_at, id): a
-- page costs the same however many workers, live or stale for their 7 days, there are.
create index workers_registered on workers (registered_at, id);

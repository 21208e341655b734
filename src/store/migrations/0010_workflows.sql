-- Gaffer schema, version 10: tasks that wait (issue 15, items 2–4): for other tasks (dependencies),
-- for the children their handler spawned (fan-in), or for a signal from outside.
--
-- A waiting task has status 'waiting', is not in task_queue (so claims never see it) and has one row
-- in task_waits saying what it waits for. Its dependencies (or children) are rows of task_deps. When a
-- task that has dependents (has_dependents, set when the first dependent appears) finishes, the row
-- trigger tasks_release_dependents counts it against its dependents in the same transaction; the last
-- one makes the dependent runnable (queued, into task_queue) or, when a dependency did not complete and
-- the dependent's policy is 'cancel', cancels it. A task without dependents costs the completion only
-- the trigger's WHEN test on its row: no function call, no read of these tables.

alter table tasks drop constraint tasks_status_check;
alter table tasks add constraint tasks_status_check
  check (status in ('waiting', 'queued', 'running', 'retrying', 'completed', 'failed', 'cancelled')) not valid;
alter table tasks validate constraint tasks_status_check;

-- No index covers these: a claim and a completion stay HOT updates.
alter table tasks add column has_dependents boolean not null default false;
alter table tasks add column parent_id text;
alter table tasks add column depth int not null default 0;

-- The waiting tasks: what each waits for (dependencies, children, a signal), how many of them are
-- still unfinished (pending), what to do when one does not complete (on_failure), and, for a signal,
-- when the wait times out and what then (on_timeout: fail, or run with a timeout marker).
-- `round` is 0 for dependencies declared at creation and the spawning attempt for children, so
-- children of an earlier round that finish late do not count against a later wait.
create table task_waits (
  seq bigint primary key,
  kind text not null check (kind in ('dependencies', 'children', 'signal')),
  pending int not null default 0,
  on_failure text not null default 'cancel' check (on_failure in ('cancel', 'run')),
  round int not null default 0,
  timeout_at timestamptz,
  on_timeout text check (on_timeout in ('fail', 'run')),
  since timestamptz not null default now()
);
create index task_waits_timeout on task_waits (timeout_at) where timeout_at is not null;

-- task_seq waits for depends_on_seq (a dependency, or a child of round `round`). Kept after the wait
-- ends: it is the task's graph (GET /tasks/{id}) and the children's results of a fan-in.
create table task_deps (
  task_seq bigint not null,
  depends_on_seq bigint not null,
  round int not null default 0,
  primary key (depends_on_seq, task_seq)
);
create index task_deps_task on task_deps (task_seq, round);
create index tasks_parent on tasks (parent_id) where parent_id is not null;

-- Counts finished tasks (p_seqs, with the statuses they ended in) against the waiting tasks that
-- depend on them (only those in p_only when given), in the caller's transaction:
--   a dependent left with no pending dependency becomes queued (into task_queue, woken);
--   a dependent whose dependency did not complete is cancelled when its policy is 'cancel' (the
--   reason in its history), and that cancellation is counted against its own dependents in turn.
-- Cascades loop here rather than recurse through the trigger (a chain of 1,000 would overflow the
-- stack). Every status change names the status it starts from: 'waiting'.
create function release_dependents(p_seqs bigint[], p_statuses text[], p_only bigint[] default null)
returns void language plpgsql set search_path from current as $$
declare
  v_seqs bigint[] := p_seqs;
  v_statuses text[] := p_statuses;
  v_only bigint[] := p_only;
  r_seq bigint[];
  r_kind text[];
  r_round int[];
  r_pending int[];
  r_policy text[];
  r_bad bigint[];
  r_bad_status text[];
  v_cancel bigint[];
  v_queue bigint[];
  v_n int;
begin
  while v_seqs is not null and cardinality(v_seqs) > 0 loop
    with fin as (select * from unnest(v_seqs, v_statuses) as f(seq, status)),
    hits as (
      select w.seq, count(*)::int as n,
        (array_agg(f.seq order by f.seq) filter (where f.status <> 'completed'))[1] as bad_seq,
        (array_agg(f.status order by f.seq) filter (where f.status <> 'completed'))[1] as bad_status
      from fin f join task_deps d on d.depends_on_seq = f.seq
        join task_waits w on w.seq = d.task_seq and w.round = d.round and w.kind <> 'signal'
      where v_only is null or w.seq = any(v_only)
      group by w.seq),
    counted as (
      update task_waits w set pending = w.pending - h.n from hits h where w.seq = h.seq
      returning w.seq, w.kind, w.round, w.pending, w.on_failure, h.bad_seq, h.bad_status)
    select array_agg(c.seq), array_agg(c.kind), array_agg(c.round), array_agg(c.pending), array_agg(c.on_failure),
      array_agg(c.bad_seq), array_agg(c.bad_status)
    into r_seq, r_kind, r_round, r_pending, r_policy, r_bad, r_bad_status
    from counted c;
    v_seqs := null;
    v_statuses := null;
    v_only := null;
    if r_seq is null then
      exit;
    end if;

    -- A dependency that did not complete: its dependents record it, whatever their policy.
    insert into task_events (task_id, attempt, kind, data)
    select t.id, t.attempt, 'dependency_failed', jsonb_build_object('dependency', b.id, 'status', r.bad_status,
      'policy', r.on_failure, 'kind', r.kind)
    from unnest(r_seq, r_kind, r_policy, r_bad, r_bad_status) as r(seq, kind, on_failure, bad_seq, bad_status)
    join tasks t on t.seq = r.seq join tasks b on b.seq = r.bad_seq;

    select array_agg(r.seq) filter (where r.bad_seq is not null and r.on_failure = 'cancel'),
      array_agg(r.seq) filter (where r.pending <= 0 and not (r.bad_seq is not null and r.on_failure = 'cancel'))
    into v_cancel, v_queue
    from unnest(r_seq, r_pending, r_policy, r_bad) as r(seq, pending, on_failure, bad_seq);

    if v_cancel is not null then
      delete from task_waits w where w.seq = any(v_cancel);
      with cancelled as (
        update tasks t set status = 'cancelled', finished_at = now(), updated_at = now()
        where t.seq = any(v_cancel) and t.status = 'waiting'
        returning t.seq, t.id, t.attempt, t.has_dependents),
      ev as (
        insert into task_events (task_id, attempt, kind, data)
        select c.id, c.attempt, 'cancelled', jsonb_build_object('by', 'gaffer', 'reason',
          case r.kind when 'children' then 'child ' else 'dependency ' end || b.id || ' ended ' || r.bad_status)
        from cancelled c
        join unnest(r_seq, r_kind, r_bad, r_bad_status) as r(seq, kind, bad_seq, bad_status) on r.seq = c.seq
        join tasks b on b.seq = r.bad_seq)
      select array_agg(c.seq) filter (where c.has_dependents),
        array_agg('cancelled'::text) filter (where c.has_dependents)
      into v_seqs, v_statuses
      from cancelled c;
    end if;
    if v_queue is not null then
      delete from task_waits w where w.seq = any(v_queue);
      with queued as (
        update tasks t set status = 'queued', updated_at = now(),
          metadata = case when r.kind = 'children'
            then t.metadata || jsonb_build_object('gaffer.wake', jsonb_build_object('kind', 'children', 'round', r.round))
            else t.metadata end
        from unnest(r_seq, r_kind, r_round) as r(seq, kind, round)
        where t.seq = any(v_queue) and r.seq = t.seq and t.status = 'waiting'
        returning t.seq, t.id, t.attempt, t.queue, t.type, t.priority, t.run_at, t.session_id, t.session_index,
          t.avoid_machine_id, t.avoid_labels, r.kind),
      q as (
        insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index,
          avoid_machine_id, avoid_labels)
        select seq, 'queued', queue, type, priority, run_at, session_id, session_index, avoid_machine_id, avoid_labels
        from queued),
      ev as (
        insert into task_events (task_id, attempt, kind, data)
        select id, attempt, 'wait_ended', jsonb_build_object('kind', kind) from queued)
      select count(pg_notify('gaffer_wake_' || current_schema(), w.queue || E'\t' || w.type || E'\t' || w.n
        || E'\treleased')) into v_n
      from (select queue, type, count(*) as n from queued group by 1, 2) w;
    end if;
  end loop;
end $$;

-- A task that has dependents finished: count it against them, in its own transaction. Inside
-- release_dependents (a cascade of cancellations) the loop there does it, so nested calls return.
create function tasks_release_dependents() returns trigger language plpgsql set search_path from current as $$
begin
  if pg_trigger_depth() > 1 then
    return null;
  end if;
  perform release_dependents(array[new.seq], array[new.status]);
  return null;
end $$;

create trigger tasks_release_dependents after update of status on tasks for each row
  when (new.has_dependents and new.status in ('completed', 'failed', 'cancelled')
    and old.status is distinct from new.status)
  execute function tasks_release_dependents();

-- Starts the waits of tasks already set to 'waiting' (p_waits: [{seq, kind, deps, onFailure, round,
-- timeoutMs, onTimeout}]): records what each waits for, marks the dependencies as having dependents
-- (the update locks them, so a dependency finishing concurrently is either seen finished here or sees
-- the mark), and counts at once those that finished already. Returns nothing; the tasks whose wait was
-- over at once are queued by release_dependents.
create function begin_waits(p_waits json) returns void language plpgsql set search_path from current as $$
declare
  v_new bigint[];
  v_done bigint[];
  v_done_status text[];
begin
  with w as (
    select * from json_to_recordset(p_waits) as x(seq bigint, kind text, deps bigint[], "onFailure" text,
      round int, "timeoutMs" int, "onTimeout" text)),
  ins as (
    insert into task_waits (seq, kind, pending, on_failure, round, timeout_at, on_timeout)
    select w.seq, w.kind, coalesce(cardinality(w.deps), 0), coalesce(w."onFailure", 'cancel'), coalesce(w.round, 0),
      case when w."timeoutMs" is null then null else now() + make_interval(secs => w."timeoutMs" / 1000.0) end,
      case when w."timeoutMs" is null then null else coalesce(w."onTimeout", 'fail') end
    from w
    on conflict (seq) do update set kind = excluded.kind, pending = excluded.pending,
      on_failure = excluded.on_failure, round = excluded.round, timeout_at = excluded.timeout_at,
      on_timeout = excluded.on_timeout, since = now()
    returning task_waits.seq),
  deps as (
    insert into task_deps (task_seq, depends_on_seq, round)
    select w.seq, d, coalesce(w.round, 0) from w, unnest(w.deps) d
    on conflict (depends_on_seq, task_seq) do update set round = excluded.round
    returning task_deps.depends_on_seq)
  select array_agg(ins.seq) into v_new from ins;
  -- Lock and mark the dependencies; the ones already finished are counted now.
  with marked as (
    update tasks t set has_dependents = true
    where t.seq in (select d from json_to_recordset(p_waits) as x(deps bigint[]), unnest(x.deps) d)
    returning t.seq, t.status)
  select array_agg(m.seq), array_agg(m.status) into v_done, v_done_status
  from marked m where m.status in ('completed', 'failed', 'cancelled');
  if v_done is not null then
    perform release_dependents(v_done, v_done_status, v_new);
  end if;
end $$;

-- Deleting tasks deletes their waits and links. A deleted dependency that had not finished counts
-- as cancelled for its dependents (their policy decides), so no dependent waits for ever.
create function tasks_delete_waits() returns trigger language plpgsql set search_path from current as $$
declare
  v_seqs bigint[];
begin
  select array_agg(d.seq) into v_seqs from deleted_tasks d
  where d.has_dependents and d.status not in ('completed', 'failed', 'cancelled');
  if v_seqs is not null then
    perform release_dependents(v_seqs, array_fill('cancelled'::text, array[cardinality(v_seqs)]));
  end if;
  delete from task_waits w using deleted_tasks d where w.seq = d.seq;
  delete from task_deps x using deleted_tasks d where x.task_seq = d.seq;
  delete from task_deps x using deleted_tasks d where x.depends_on_seq = d.seq;
  return null;
end $$;
create trigger tasks_delete_waits after delete on tasks
  referencing old table as deleted_tasks for each statement execute function tasks_delete_waits();

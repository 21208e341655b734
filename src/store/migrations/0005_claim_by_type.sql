-- Gaffer schema, version 5: claims that reach only the rows they may claim (issue 18).
--
-- Before this version a claim walked task_queue in one global order (priority desc, run_at, seq)
-- and filtered type and queue afterwards, so a claim of type B read every waiting task of type A
-- ranked above its first B: with a million A tasks waiting, pickup p99 of B went from 7–15 ms to
-- 363–601 ms. Now the queue's index is led by type and queue, and a claim reads, for each (type,
-- queue) its worker takes, only the head of that pair's part of the index, then merges the heads in
-- the global order, so priorities across types keep their meaning and a claim's cost does not grow
-- with work of types or queues it does not take.

drop index task_queue_runnable;
-- Claim order within each (type, queue).
create index task_queue_claim on task_queue (type, queue, priority desc, run_at, seq);

-- Claims up to p_limit tasks the worker may run (or one task of a session: the one at
-- p_session_index, else its lowest free index): takes them out of the queue, records the claim, and
-- starts an attempt on each (attempt + 1 is the fencing token, the lease runs from now). Returns the
-- tasks with only what a worker needs, times in epoch ms; raises GF002 if the worker is not live.
--
-- The (type, queue) pairs it reads: the cross product of p_types and p_queues when both are given;
-- else the pairs that have rows, found by a skip scan of the index's leading columns (one probe
-- per pair present, not per row). For each pair it locks the pair's first p_limit claimable rows
-- (FOR UPDATE SKIP LOCKED, in the pair's index order) and takes the first p_limit of all of them in
-- the global order (priority desc, run_at, seq) (the one sort of the plan, of at most p_limit rows
-- per pair; enable_sort off keeps every other part of it an ordered index walk whatever the
-- statistics say): a worker of many types gets the tasks it would get
-- from one global queue, so no type starves another and priorities compare across types. Rows of
-- other pairs locked but not taken (at most p_limit per pair, only when the worker takes several
-- pairs) stay locked until the claim commits, microseconds later; a concurrent claim skips them as
-- it skips rows another claim takes.
--
-- The claim commits asynchronously (synchronous_commit off for its transaction): a claim lost in a
-- database crash only puts its tasks back in the queue with the attempt they had, to be claimed
-- again; at-least-once holds, and fencing refuses the earlier holder's writes (its worker id no
-- longer matches). Creates, completions and failures stay synchronous, and a synchronous commit
-- flushes every claim before it.
create or replace function claim_tasks(p_worker text, p_now timestamptz, p_stale_ms int, p_lease_ms int,
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
  v_pair_types text[];
  v_pair_queues text[];
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
    if p_types is not null and p_queues is not null then
      select array_agg(t.type order by t.type, q.queue), array_agg(q.queue order by t.type, q.queue)
      into v_pair_types, v_pair_queues
      from (select distinct unnest(p_types) as type) t, (select distinct unnest(p_queues) as queue) q;
    elsif p_types is not null then
      -- Each type's queues, one index probe per queue that has rows of the type.
      with recursive qs(type, queue) as (
        select t.type, (select min(q.queue) from task_queue q where q.type = t.type)
        from (select distinct unnest(p_types) as type) t
        union all
        select qs.type, (select min(q.queue) from task_queue q where q.type = qs.type and q.queue > qs.queue)
        from qs where qs.queue is not null)
      select array_agg(qs.type), array_agg(qs.queue) into v_pair_types, v_pair_queues
      from qs where qs.queue is not null and (p_queues is null or qs.queue = any(p_queues));
    else
      -- Every (type, queue) present, one index probe per pair.
      with recursive ps(type, queue) as (
        (select q.type, q.queue from task_queue q order by q.type, q.queue limit 1)
        union all
        select n.type, n.queue from ps cross join lateral (
          select q.type, q.queue from task_queue q where (q.type, q.queue) > (ps.type, ps.queue)
          order by q.type, q.queue limit 1) n)
      select array_agg(ps.type), array_agg(ps.queue) into v_pair_types, v_pair_queues
      from ps where p_queues is null or ps.queue = any(p_queues);
    end if;
    if v_pair_types is null then
      return;
    end if;
    with pairs as (select * from unnest(v_pair_types, v_pair_queues) as p(type, queue)),
    picked as (
      select c.seq from pairs p cross join lateral (
        select q.seq, q.priority, q.run_at from task_queue q
        where q.type = p.type and q.queue = p.queue and q.run_at <= v_now
          and (q.avoid_machine_id is null or q.avoid_machine_id <> v_machine)
          and (q.avoid_labels is null or not (v_labels @> q.avoid_labels))
        order by q.priority desc, q.run_at, q.seq
        limit p_limit
        for update skip locked) c
      order by c.priority desc, c.run_at, c.seq
      limit p_limit),
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

-- Wake-ups name the queue, the type and how many of its tasks became runnable (payload
-- `queue<TAB>type<TAB>count`, as src/store/sql/wake.ts reads it), so a server wakes only as many
-- waiting claims of that type and queue as there is work; tasks that run later wake no one (the
-- waiters' fallback poll finds them). insert_tasks is otherwise as in version 4.
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
create or replace function insert_tasks(p_tasks json, p_default_max_attempts int, p_default_backoff jsonb,
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
      select count(pg_notify(p_channel, w.queue || E'\t' || w.type || E'\t' || w.cnt)) as n
      from (select n.queue, n.type, count(*) as cnt from ins n where n.run_at <= n.created_at
        group by n.queue, n.type) w
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
    select count(pg_notify(p_channel, w.queue || E'\t' || w.type || E'\t' || w.cnt)) as n
    from (select n.queue, n.type, count(*) as cnt from ins n where n.run_at <= n.created_at
      group by n.queue, n.type) w
    where p_channel is not null)
  select n.id, n.seq, (date_part('epoch', n.run_at) * 1000)::int8, n.max_attempts, n.timeout_ms,
    n.backoff::text, n.tracking, (date_part('epoch', n.created_at) * 1000)::int8
  from ins n, woken;
end $$;

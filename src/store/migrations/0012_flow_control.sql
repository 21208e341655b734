-- Gaffer schema, version 12: flow control (issue 14): pause a queue or a task type, limit how many of
-- its tasks run at once across the fleet, how many run per concurrency key, and how many start per
-- interval; all enforced inside claim_tasks, in the claim's own transaction.
--
-- Exactness across servers: a claim that takes from a limited scope first takes a transaction-level
-- advisory lock on the scope (blocking, in a fixed order, so two claims never wait for each other in
-- a circle), and only then, in a new statement and therefore a new snapshot, reads how many run
-- (task_counts, kept exact by the triggers of version 6) and how many started in the window. So two
-- claims of one scope run one after the other and the second sees what the first committed. A key
-- is locked with a try-lock instead (another claim holding it skips the key, as SKIP LOCKED skips a
-- row), and its running tasks are rows of task_key_running, which a trigger on tasks keeps: one row
-- per running task that carries a key, in by the statement that starts it, out by whichever statement
-- ends it (completion, failure, hand-back, lapse, cancel, delete), so no end of an attempt can keep a
-- slot. With no flow control configured, claim_tasks pays one index probe of an empty table.

-- Per queue or task type: paused (nothing new starts), and limits. A limit left null does not apply.
create table flow_controls (
  scope text not null check (scope in ('queue', 'type')),
  name text not null,
  paused_at timestamptz,
  paused_by text,
  concurrency int check (concurrency > 0),
  key_concurrency int check (key_concurrency > 0),
  rate_limit int check (rate_limit > 0),
  rate_interval_ms int check (rate_interval_ms > 0),
  key_rate_limit int check (key_rate_limit > 0),
  key_rate_interval_ms int check (key_rate_interval_ms > 0),
  -- The scope's starts within the last rate interval, oldest first (at most rate_limit of them):
  -- a start is allowed while fewer than rate_limit started in the interval before it, so no window
  -- of that length ever holds more (a sliding log, exact where a fixed window lets 2N through).
  rate_starts timestamptz[] not null default '{}',
  -- When the next start may happen, while the window is full (what "rate-limited until" shows).
  rate_limited_until timestamptz,
  updated_at timestamptz not null default now(),
  primary key (scope, name),
  check ((rate_limit is null) = (rate_interval_ms is null)),
  check ((key_rate_limit is null) = (key_rate_interval_ms is null))
);

-- The per-key sliding logs of key rate limits, one row per scope and key that started a task.
create table flow_key_rates (
  scope text not null,
  name text not null,
  key text not null,
  starts timestamptz[] not null default '{}',
  limited_until timestamptz,
  primary key (scope, name, key)
);

-- Where the round-robin over keys of a (type, queue) continues: the last key a claim served.
create table flow_cursors (
  type text not null,
  queue text not null,
  key text not null,
  primary key (type, queue)
);

-- A task may carry a concurrency key (a tenant, a provider): limits per key count its running tasks.
alter table tasks add column concurrency_key text;
alter table task_queue add column concurrency_key text;
-- The claim of a pair under a key limit walks keys within a priority, one index probe per key, and
-- reads a key's head without passing its backlog.
create index task_queue_keyed on task_queue (type, queue, priority desc, concurrency_key, run_at, seq);

-- The running tasks that carry a key.
create table task_key_running (
  seq bigint primary key,
  key text not null,
  queue text not null,
  type text not null
);
create index task_key_running_key on task_key_running (key, queue, type);

create function task_key_running_updated() returns trigger language plpgsql set search_path from current as $$
begin
  if not exists (select 1 from new_tasks n where n.concurrency_key is not null) then
    return null;
  end if;
  delete from task_key_running r using old_tasks o, new_tasks n
  where r.seq = o.seq and n.seq = o.seq and o.status = 'running' and n.status <> 'running';
  insert into task_key_running (seq, key, queue, type)
  select n.seq, n.concurrency_key, n.queue, n.type from new_tasks n join old_tasks o on o.seq = n.seq
  where n.concurrency_key is not null and n.status = 'running' and o.status <> 'running'
  on conflict (seq) do nothing;
  return null;
end $$;

create function task_key_running_deleted() returns trigger language plpgsql set search_path from current as $$
begin
  if exists (select 1 from old_tasks o where o.concurrency_key is not null and o.status = 'running') then
    delete from task_key_running r using old_tasks o where r.seq = o.seq;
  end if;
  return null;
end $$;

create trigger tasks_key_running_updated after update on tasks
  referencing old table as old_tasks new table as new_tasks for each statement
  execute function task_key_running_updated();
create trigger tasks_key_running_deleted after delete on tasks
  referencing old table as old_tasks for each statement execute function task_key_running_deleted();

-- A claim's candidate: what the merge orders on and what the limits count.
create type flow_pick as (seq bigint, priority int, run_at timestamptz, type text, queue text, key text);

-- The advisory lock of a scope, or of a key in a scope: one key space for Gaffer's flow control,
-- and the schema in the hash so stores in one database do not share locks.
create function flow_lock_id(p_scope text, p_name text, p_key text) returns int language sql immutable as $$
  select hashtext(p_scope || E'\t' || p_name || E'\t' || coalesce(p_key, ''))
$$;

-- How many more tasks the scope may start now: its concurrency limit less what runs (exact from
-- task_counts), and its rate limit less the starts in the window. The caller holds the scope's lock.
create function flow_scope_spare(c flow_controls, p_now timestamptz) returns int language plpgsql
set search_path from current as $$
declare
  v_spare int := 2147483647;
  v_running bigint;
begin
  if c.scope is null then
    return v_spare;
  end if;
  if c.concurrency is not null then
    if c.scope = 'queue' then
      select coalesce(sum(n), 0) into v_running from task_counts where queue = c.name and status = 'running';
    else
      select coalesce(sum(n), 0) into v_running from task_counts where type = c.name and status = 'running';
    end if;
    v_spare := least(v_spare, c.concurrency - v_running);
  end if;
  if c.rate_limit is not null then
    v_spare := least(v_spare, c.rate_limit - (select count(*)::int from unnest(c.rate_starts) s
      where s > p_now - make_interval(secs => c.rate_interval_ms / 1000.0)));
  end if;
  return greatest(v_spare, 0);
end $$;

-- How many more tasks of key p_key (type p_type, queue p_queue) may start now, counting the picks of
-- this claim so far; 0 when another claim holds the key (try-lock: it is skipped, not waited for).
create function flow_key_spare(qc flow_controls, tc flow_controls, p_type text, p_queue text, p_key text,
  p_now timestamptz, p_taken flow_pick[]) returns int language plpgsql
set search_path from current as $$
declare
  v_spare int := 2147483647;
  v_cls int := hashtext('gaffer-flow:' || current_schema());
begin
  if p_key is null then
    return v_spare;
  end if;
  if qc.key_concurrency is not null or qc.key_rate_limit is not null then
    if not pg_try_advisory_xact_lock(v_cls, flow_lock_id('queue', p_queue, p_key)) then
      return 0;
    end if;
  end if;
  if tc.key_concurrency is not null or tc.key_rate_limit is not null then
    if not pg_try_advisory_xact_lock(v_cls, flow_lock_id('type', p_type, p_key)) then
      return 0;
    end if;
  end if;
  -- New statements from here on: they see every claim of this key that committed before the lock.
  if qc.key_concurrency is not null then
    v_spare := least(v_spare, qc.key_concurrency
      - (select count(*)::int from task_key_running r where r.key = p_key and r.queue = p_queue)
      - (select count(*)::int from unnest(p_taken) t where t.key = p_key and t.queue = p_queue));
  end if;
  if tc.key_concurrency is not null then
    v_spare := least(v_spare, tc.key_concurrency
      - (select count(*)::int from task_key_running r where r.key = p_key and r.type = p_type)
      - (select count(*)::int from unnest(p_taken) t where t.key = p_key and t.type = p_type));
  end if;
  if qc.key_rate_limit is not null then
    v_spare := least(v_spare, qc.key_rate_limit
      - coalesce((select count(*)::int from flow_key_rates k, unnest(k.starts) s
          where k.scope = 'queue' and k.name = p_queue and k.key = p_key
            and s > p_now - make_interval(secs => qc.key_rate_interval_ms / 1000.0)), 0)
      - (select count(*)::int from unnest(p_taken) t where t.key = p_key and t.queue = p_queue));
  end if;
  if tc.key_rate_limit is not null then
    v_spare := least(v_spare, tc.key_rate_limit
      - coalesce((select count(*)::int from flow_key_rates k, unnest(k.starts) s
          where k.scope = 'type' and k.name = p_type and k.key = p_key
            and s > p_now - make_interval(secs => tc.key_rate_interval_ms / 1000.0)), 0)
      - (select count(*)::int from unnest(p_taken) t where t.key = p_key and t.type = p_type));
  end if;
  return greatest(v_spare, 0);
end $$;

-- Up to p_n claimable tasks of one (type, queue, priority, key) group (key null: the tasks without a
-- key), in run_at, seq order, locked (SKIP LOCKED): an index range of the group, not its backlog.
create function flow_group_heads(p_type text, p_queue text, p_priority int, p_key text, p_n int,
  p_now timestamptz, p_machine text, p_labels jsonb, p_picked flow_pick[]) returns flow_pick[] language plpgsql
set search_path from current as $$
declare
  v_out flow_pick[];
begin
  select coalesce(array_agg(row(c.seq, c.priority, c.run_at, c.type, c.queue, c.concurrency_key)::flow_pick), '{}')
  into v_out
  from (select q.seq, q.priority, q.run_at, q.type, q.queue, q.concurrency_key from task_queue q
    where q.type = p_type and q.queue = p_queue and q.priority = p_priority
      and (q.concurrency_key = p_key or (p_key is null and q.concurrency_key is null)) and q.run_at <= p_now
      and (q.avoid_machine_id is null or q.avoid_machine_id <> p_machine)
      and (q.avoid_labels is null or not (p_labels @> q.avoid_labels))
      -- Rows this claim picked already: its own locks do not make SKIP LOCKED skip them.
      and not (q.seq = any(array(select x.seq from unnest(p_picked) x)))
    order by q.run_at, q.seq
    limit p_n
    for update skip locked) c;
  return v_out;
end $$;

-- The claim of one (type, queue) under a key limit: keys take turns. Within each priority (highest
-- first) it visits the keys in order starting after the key the last claim served (flow_cursors),
-- wrapping round, and takes one task of each key with room; then, while the budget lasts, one more of
-- each key that gave one, and so on. So keys of equal priority are served in rotation whatever their
-- backlogs (one tenant's 100k tasks do not delay another's ten by more than a turn), a key at its
-- limit costs one index probe and a count of its running tasks, and a claim visits at most
-- p_max_visits keys (when all are at their limits it goes on where it stopped next time).
create function flow_take_keys(qc flow_controls, tc flow_controls, p_type text, p_queue text, p_budget int,
  p_now timestamptz, p_machine text, p_labels jsonb, p_taken flow_pick[], p_max_visits int)
returns flow_pick[] language plpgsql set search_path from current as $$
declare
  v_out flow_pick[] := '{}';
  v_got flow_pick[];
  v_cursor text;
  v_prio int;
  v_key text;
  v_wrapped boolean;
  v_visits int := 0;
  v_spare int;
  v_more_keys text[] := '{}';
  v_more_prios int[] := '{}';
  v_next_keys text[];
  v_next_prios int[];
  v_last text;
  i int;
begin
  select f.key into v_cursor from flow_cursors f where f.type = p_type and f.queue = p_queue;
  select q.priority into v_prio from task_queue q where q.type = p_type and q.queue = p_queue
  order by q.priority desc limit 1;
  while v_prio is not null and cardinality(v_out) < p_budget and v_visits < p_max_visits loop
    -- The keys of this priority after the cursor, then from the first up to the cursor.
    v_key := v_cursor;
    v_wrapped := v_cursor is null;
    if v_wrapped then
      v_key := (select min(q.concurrency_key) from task_queue q
        where q.type = p_type and q.queue = p_queue and q.priority = v_prio and q.concurrency_key is not null);
    else
      v_key := (select min(q.concurrency_key) from task_queue q
        where q.type = p_type and q.queue = p_queue and q.priority = v_prio and q.concurrency_key > v_cursor);
      if v_key is null then
        v_wrapped := true;
        v_key := (select min(q.concurrency_key) from task_queue q
          where q.type = p_type and q.queue = p_queue and q.priority = v_prio and q.concurrency_key is not null);
      end if;
    end if;
    while v_key is not null and cardinality(v_out) < p_budget and v_visits < p_max_visits
      and not (v_wrapped and v_cursor is not null and v_key > v_cursor) loop
      v_visits := v_visits + 1;
      v_spare := flow_key_spare(qc, tc, p_type, p_queue, v_key, p_now, p_taken || v_out);
      if v_spare > 0 then
        v_got := flow_group_heads(p_type, p_queue, v_prio, v_key, 1, p_now, p_machine, p_labels, v_out);
        if cardinality(v_got) > 0 then
          v_out := v_out || v_got;
          v_last := v_key;
          if v_spare > 1 then
            v_more_keys := v_more_keys || v_key;
            v_more_prios := v_more_prios || v_prio;
          end if;
        end if;
      end if;
      v_last := coalesce(v_last, case when v_visits >= p_max_visits then v_key end);
      v_key := (select min(q.concurrency_key) from task_queue q
        where q.type = p_type and q.queue = p_queue and q.priority = v_prio and q.concurrency_key > v_key);
      if v_key is null and not v_wrapped then
        v_wrapped := true;
        v_key := (select min(q.concurrency_key) from task_queue q
          where q.type = p_type and q.queue = p_queue and q.priority = v_prio and q.concurrency_key is not null);
      end if;
    end loop;
    -- Tasks without a key are under no key limit: they take what the budget leaves at this priority.
    if cardinality(v_out) < p_budget then
      v_out := v_out || flow_group_heads(p_type, p_queue, v_prio, null, p_budget - cardinality(v_out),
        p_now, p_machine, p_labels, '{}');
    end if;
    select q.priority into v_prio from task_queue q where q.type = p_type and q.queue = p_queue
      and q.priority < v_prio order by q.priority desc limit 1;
  end loop;
  -- Further turns for the keys that had room for more than one.
  while cardinality(v_out) < p_budget and cardinality(v_more_keys) > 0 loop
    v_next_keys := '{}';
    v_next_prios := '{}';
    for i in 1 .. cardinality(v_more_keys) loop
      exit when cardinality(v_out) >= p_budget;
      v_spare := flow_key_spare(qc, tc, p_type, p_queue, v_more_keys[i], p_now, p_taken || v_out);
      continue when v_spare <= 0;
      v_got := flow_group_heads(p_type, p_queue, v_more_prios[i], v_more_keys[i], 1, p_now, p_machine, p_labels,
        v_out);
      continue when cardinality(v_got) = 0;
      v_out := v_out || v_got;
      if v_spare > 1 then
        v_next_keys := v_next_keys || v_more_keys[i];
        v_next_prios := v_next_prios || v_more_prios[i];
      end if;
    end loop;
    v_more_keys := v_next_keys;
    v_more_prios := v_next_prios;
  end loop;
  if v_last is not null then
    -- A claim that finds the cursor locked by another leaves it to that one.
    perform 1 from flow_cursors f where f.type = p_type and f.queue = p_queue for update skip locked;
    if found then
      update flow_cursors f set key = v_last where f.type = p_type and f.queue = p_queue;
    else
      insert into flow_cursors (type, queue, key) values (p_type, p_queue, v_last) on conflict do nothing;
    end if;
  end if;
  return v_out;
end $$;

-- Records the starts of a claim in the rate logs of the scopes and keys it started tasks in (the
-- caller holds their locks) and when each may start again while its window is full.
create function flow_record_starts(p_taken flow_pick[], p_now timestamptz) returns void language plpgsql
set search_path from current as $$
begin
  update flow_controls c set
    rate_starts = s.starts,
    rate_limited_until = case when cardinality(s.starts) >= c.rate_limit
      then s.starts[cardinality(s.starts) - c.rate_limit + 1] + make_interval(secs => c.rate_interval_ms / 1000.0) end
  from (
    select c2.scope, c2.name, array(
      select x from (
        select u as x from unnest(c2.rate_starts) u
        where u > p_now - make_interval(secs => c2.rate_interval_ms / 1000.0)
        union all
        select p_now from unnest(p_taken) t
        where (c2.scope = 'queue' and t.queue = c2.name) or (c2.scope = 'type' and t.type = c2.name)) y
      order by x) as starts
    from flow_controls c2
    where c2.rate_limit is not null
      and exists (select 1 from unnest(p_taken) t
        where (c2.scope = 'queue' and t.queue = c2.name) or (c2.scope = 'type' and t.type = c2.name))) s
  where c.scope = s.scope and c.name = s.name;

  insert into flow_key_rates as k (scope, name, key, starts, limited_until)
  select g.scope, g.name, g.key, g.starts,
    case when cardinality(g.starts) >= g.lim then g.starts[1] + make_interval(secs => g.ms / 1000.0) end
  from (
    select c.scope, c.name, t.key, c.key_rate_limit as lim, c.key_rate_interval_ms as ms,
      array_agg(p_now) as starts
    from unnest(p_taken) t
    join flow_controls c on c.key_rate_limit is not null
      and ((c.scope = 'queue' and c.name = t.queue) or (c.scope = 'type' and c.name = t.type))
    where t.key is not null
    group by c.scope, c.name, t.key, c.key_rate_limit, c.key_rate_interval_ms) g
  on conflict (scope, name, key) do update set
    starts = array(select x from (
        select u as x from unnest(k.starts) u
        where u > p_now - make_interval(secs => (select c.key_rate_interval_ms from flow_controls c
          where c.scope = k.scope and c.name = k.name) / 1000.0)
        union all select unnest(excluded.starts)) y order by x),
    limited_until = null;
  -- A key whose window is now full: when its next start may happen.
  update flow_key_rates k set limited_until = k.starts[cardinality(k.starts) - c.key_rate_limit + 1]
      + make_interval(secs => c.key_rate_interval_ms / 1000.0)
  from flow_controls c, (select distinct t.key from unnest(p_taken) t where t.key is not null) t
  where c.key_rate_limit is not null and k.scope = c.scope and k.name = c.name and k.key = t.key
    and cardinality(k.starts) >= c.key_rate_limit;
end $$;

-- Claims up to p_limit tasks the worker may run (or one task of a session: the one at
-- p_session_index, else its lowest free index): takes them out of the queue, records the claim, and
-- starts an attempt on each (attempt + 1 is the fencing token, the lease runs from now). Returns the
-- tasks with only what a worker needs, times in epoch ms; raises GF002 if the worker is not live.
--
-- Without flow control (no row in flow_controls) it is the claim of version 5: the worker's (type,
-- queue) pairs, the first p_limit claimable rows of each locked through a LATERAL join, the first
-- p_limit of all of them in the global order (priority desc, run_at, seq).
--
-- With flow control: pairs whose queue or type is paused are left out; pairs under no limit are
-- claimed as above; each pair under a limit gets a budget (the least of p_limit and the room of its
-- queue's and its type's limits, read under their locks) and, under a key limit, takes its tasks key
-- by key in rotation (flow_take_keys). The candidates of both kinds are merged in the global order.
drop function claim_tasks(text, timestamptz, int, int, text[], text[], int, text, int);
create function claim_tasks(p_worker text, p_now timestamptz, p_stale_ms int, p_lease_ms int,
  p_types text[], p_queues text[], p_limit int, p_session text, p_session_index int)
returns table (id text, seq bigint, type text, queue text, payload jsonb, priority int, run_at bigint,
  attempt int, max_attempts int, timeout_ms int, idempotency_key text, session_id text, session_index int,
  key text, user_id text, metadata jsonb, created_at bigint, started_at bigint, concurrency_key text)
language plpgsql
set search_path from current set plan_cache_mode = force_generic_plan set jit = off
set enable_seqscan = off set enable_bitmapscan = off set enable_sort = off as $$
#variable_conflict use_column
declare
  v_now timestamptz := coalesce(p_now, now());
  v_machine text;
  v_labels jsonb;
  v_flow boolean;
  v_pair_types text[];
  v_pair_queues text[];
  v_plain_types text[];
  v_plain_queues text[];
  v_lim_types text[];
  v_lim_queues text[];
  v_picks flow_pick[] := '{}';
  v_lim flow_pick[] := '{}';
  v_got flow_pick[];
  v_taken flow_pick[];
  v_qc flow_controls;
  v_tc flow_controls;
  v_scope record;
  v_spare_names text[] := '{}';
  v_spares int[] := '{}';
  v_budget int;
  v_qi int;
  v_ti int;
  v_seqs bigint[];
  v_claim bigint;
  v_n int;
  v_cls int;
  i int;
begin
  perform set_config('synchronous_commit', 'off', true);
  select w.machine_id, w.labels into v_machine, v_labels from workers w
  where w.id = p_worker and w.stale_at is null
    and w.last_heartbeat_at > v_now - make_interval(secs => p_stale_ms / 1000.0);
  if not found then
    raise exception 'worker % is not live', p_worker using errcode = 'GF002';
  end if;
  v_flow := exists (select 1 from flow_controls);
  if p_session is null then
    if p_types is not null and p_queues is not null then
      select array_agg(t.type order by t.type, q.queue), array_agg(q.queue order by t.type, q.queue)
      into v_pair_types, v_pair_queues
      from (select distinct unnest(p_types) as type) t, (select distinct unnest(p_queues) as queue) q;
    elsif p_types is not null then
      with recursive qs(type, queue) as (
        select t.type, (select min(q.queue) from task_queue q where q.type = t.type)
        from (select distinct unnest(p_types) as type) t
        union all
        select qs.type, (select min(q.queue) from task_queue q where q.type = qs.type and q.queue > qs.queue)
        from qs where qs.queue is not null)
      select array_agg(qs.type), array_agg(qs.queue) into v_pair_types, v_pair_queues
      from qs where qs.queue is not null and (p_queues is null or qs.queue = any(p_queues));
    else
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
    if not v_flow then
      -- No flow control anywhere: the claim of version 5, one statement.
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
      -- Paused pairs are dropped; the rest are plain (no limit applies) or limited.
      select array_agg(p.type) filter (where not p.limited), array_agg(p.queue) filter (where not p.limited),
        array_agg(p.type) filter (where p.limited), array_agg(p.queue) filter (where p.limited)
      into v_plain_types, v_plain_queues, v_lim_types, v_lim_queues
      from (
        select u.type, u.queue,
          coalesce(qc.concurrency, qc.key_concurrency, qc.rate_limit, qc.key_rate_limit,
            tc.concurrency, tc.key_concurrency, tc.rate_limit, tc.key_rate_limit) is not null as limited
        from unnest(v_pair_types, v_pair_queues) as u(type, queue)
        left join flow_controls qc on qc.scope = 'queue' and qc.name = u.queue
        left join flow_controls tc on tc.scope = 'type' and tc.name = u.type
        where qc.paused_at is null and tc.paused_at is null) p;
    if v_plain_types is not null then
      with pairs as (select * from unnest(v_plain_types, v_plain_queues) as p(type, queue))
      select coalesce(array_agg(row(c.seq, c.priority, c.run_at, c.type, c.queue, c.concurrency_key)::flow_pick), '{}')
      into v_picks
      from pairs p cross join lateral (
        select q.seq, q.priority, q.run_at, q.type, q.queue, q.concurrency_key from task_queue q
        where q.type = p.type and q.queue = p.queue and q.run_at <= v_now
          and (q.avoid_machine_id is null or q.avoid_machine_id <> v_machine)
          and (q.avoid_labels is null or not (v_labels @> q.avoid_labels))
        order by q.priority desc, q.run_at, q.seq
        limit p_limit
        for update skip locked) c;
    end if;
    if v_lim_types is not null then
      -- The scopes with a limit of their own, locked in one order by every claim, then their room
      -- read in new statements (after the locks: what earlier claims committed is seen).
      v_cls := hashtext('gaffer-flow:' || current_schema());
      for v_scope in
        select c.* from flow_controls c
        where (c.concurrency is not null or c.rate_limit is not null)
          and ((c.scope = 'queue' and c.name = any(v_lim_queues)) or (c.scope = 'type' and c.name = any(v_lim_types)))
        order by c.scope, c.name
      loop
        perform pg_advisory_xact_lock(v_cls, flow_lock_id(v_scope.scope, v_scope.name, null));
      end loop;
      for v_scope in
        select c.scope, c.name from flow_controls c
        where (c.concurrency is not null or c.rate_limit is not null)
          and ((c.scope = 'queue' and c.name = any(v_lim_queues)) or (c.scope = 'type' and c.name = any(v_lim_types)))
        order by c.scope, c.name
      loop
        select * into v_qc from flow_controls c where c.scope = v_scope.scope and c.name = v_scope.name;
        v_spare_names := v_spare_names || (v_scope.scope || E'\t' || v_scope.name);
        v_spares := v_spares || flow_scope_spare(v_qc, v_now);
      end loop;
      for i in 1 .. cardinality(v_lim_types) loop
        v_qc := null;
        v_tc := null;
        select * into v_qc from flow_controls c where c.scope = 'queue' and c.name = v_lim_queues[i];
        select * into v_tc from flow_controls c where c.scope = 'type' and c.name = v_lim_types[i];
        v_qi := array_position(v_spare_names, 'queue' || E'\t' || v_lim_queues[i]);
        v_ti := array_position(v_spare_names, 'type' || E'\t' || v_lim_types[i]);
        v_budget := least(p_limit - cardinality(v_lim), coalesce(v_spares[v_qi], p_limit),
          coalesce(v_spares[v_ti], p_limit));
        continue when v_budget <= 0;
        if coalesce(v_qc.key_concurrency, v_qc.key_rate_limit, v_tc.key_concurrency, v_tc.key_rate_limit) is null then
          select coalesce(array_agg(row(c.seq, c.priority, c.run_at, c.type, c.queue, c.concurrency_key)::flow_pick), '{}')
          into v_got
          from (select q.seq, q.priority, q.run_at, q.type, q.queue, q.concurrency_key from task_queue q
            where q.type = v_lim_types[i] and q.queue = v_lim_queues[i] and q.run_at <= v_now
              and (q.avoid_machine_id is null or q.avoid_machine_id <> v_machine)
              and (q.avoid_labels is null or not (v_labels @> q.avoid_labels))
            order by q.priority desc, q.run_at, q.seq
            limit v_budget
            for update skip locked) c;
        else
          v_got := flow_take_keys(v_qc, v_tc, v_lim_types[i], v_lim_queues[i], v_budget, v_now, v_machine,
            v_labels, v_lim, 500);
        end if;
        v_lim := v_lim || v_got;
        if v_qi is not null then v_spares[v_qi] := v_spares[v_qi] - cardinality(v_got); end if;
        if v_ti is not null then v_spares[v_ti] := v_spares[v_ti] - cardinality(v_got); end if;
      end loop;
    end if;
    -- The first p_limit of all candidates in the global order (candidates not taken stay locked
    -- until commit, as in version 5).
    select coalesce(array_agg(x.t), '{}') into v_taken from (
      select t from unnest(v_picks || v_lim) t
      order by t.priority desc, t.run_at, t.seq
      limit p_limit) x;
    select array_agg(t.seq) into v_seqs from unnest(v_taken) t;
    if v_seqs is not null then
      delete from task_queue q where q.seq = any(v_seqs);
      perform flow_record_starts(v_taken, v_now);
    end if;
    end if;
  else
    select coalesce(array_agg(row(c.seq, c.priority, c.run_at, c.type, c.queue, c.concurrency_key)::flow_pick), '{}')
    into v_taken
    from (select q.seq, q.priority, q.run_at, q.type, q.queue, q.concurrency_key from task_queue q
      where q.session_id = p_session and (p_session_index is null or q.session_index = p_session_index)
        and q.run_at <= v_now
        and (q.avoid_machine_id is null or q.avoid_machine_id <> v_machine)
        and (q.avoid_labels is null or not (v_labels @> q.avoid_labels))
      order by q.session_index
      limit 1
      for update skip locked) c;
    if v_flow and cardinality(v_taken) > 0 then
      -- An assignment claimed by index obeys its queue's and type's pause and limits too.
      select * into v_qc from flow_controls c where c.scope = 'queue' and c.name = (v_taken[1]).queue;
      select * into v_tc from flow_controls c where c.scope = 'type' and c.name = (v_taken[1]).type;
      if v_qc.paused_at is not null or v_tc.paused_at is not null then
        return;
      end if;
      v_cls := hashtext('gaffer-flow:' || current_schema());
      if v_qc.concurrency is not null or v_qc.rate_limit is not null then
        perform pg_advisory_xact_lock(v_cls, flow_lock_id('queue', v_qc.name, null));
      end if;
      if v_tc.concurrency is not null or v_tc.rate_limit is not null then
        perform pg_advisory_xact_lock(v_cls, flow_lock_id('type', v_tc.name, null));
      end if;
      select * into v_qc from flow_controls c where c.scope = 'queue' and c.name = (v_taken[1]).queue;
      select * into v_tc from flow_controls c where c.scope = 'type' and c.name = (v_taken[1]).type;
      if flow_scope_spare(v_qc, v_now) < 1 or flow_scope_spare(v_tc, v_now) < 1
        or flow_key_spare(v_qc, v_tc, (v_taken[1]).type, (v_taken[1]).queue, (v_taken[1]).key, v_now, '{}') < 1 then
        return;
      end if;
    end if;
    select array_agg(t.seq) into v_seqs from unnest(v_taken) t;
    if v_seqs is not null then
      delete from task_queue q where q.seq = any(v_seqs);
      if v_flow then
        perform flow_record_starts(v_taken, v_now);
      end if;
    end if;
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
    t.user_id, t.metadata, (date_part('epoch', t.created_at) * 1000)::int8, (date_part('epoch', v_now) * 1000)::int8,
    t.concurrency_key;
  get diagnostics v_n = row_count;
  if v_n < cardinality(v_seqs) then
    update task_claims set open = v_n where task_claims.id = v_claim;
  end if;
end $$;

-- Creates carry the task's concurrency key ("concurrencyKey" in the batch's JSON) into tasks and
-- task_queue; new_task_rows and insert_tasks are otherwise as in versions 4 and 5.
drop function new_task_rows(json, int, jsonb);
create function new_task_rows(p_tasks json, p_default_max_attempts int, p_default_backoff jsonb)
returns table (id text, type text, queue text, payload jsonb, priority int, run_at timestamptz,
  max_attempts int, timeout_ms int, backoff jsonb, idempotency_key text, session_id text, session_index int,
  key text, user_id text, metadata jsonb, tracking text, concurrency_key text)
language sql stable as $$
  select i.id, i.type, coalesce(i.queue, 'default'), coalesce(i.payload, 'null'), coalesce(i.priority, 0),
    coalesce(i."runAt", now() + make_interval(secs => coalesce(i."delayMs", 0) / 1000.0)),
    coalesce(i."maxAttempts", tt.max_attempts, p_default_max_attempts), coalesce(i."timeoutMs", tt.timeout_ms),
    case when i.backoff is null and tt.backoff is null then p_default_backoff
      else p_default_backoff || (case when jsonb_typeof(tt.backoff) = 'object' then tt.backoff else '{}' end)
        || coalesce(i.backoff, '{}') end,
    i."idempotencyKey", i."sessionId", i."sessionIndex", i.key, i."userId", coalesce(i.metadata, '{}'),
    coalesce(tt.tracking, 'track'), i."concurrencyKey"
  from json_to_recordset(p_tasks) as i(id text, type text, queue text, payload jsonb, priority int,
    "runAt" timestamptz, "delayMs" int, "maxAttempts" int, "timeoutMs" int, backoff jsonb, "idempotencyKey" text,
    "sessionId" text, "sessionIndex" int, key text, "userId" text, metadata jsonb, "concurrencyKey" text)
  left join lateral (select * from task_types t where t.type = i.type offset 0) tt on true
$$;

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
        idempotency_key, session_id, session_index, key, user_id, metadata, tracking, concurrency_key)
      select * from new_task_rows(p_tasks, p_default_max_attempts, p_default_backoff)
      returning tasks.id, tasks.seq, tasks.queue, tasks.type, tasks.priority, tasks.run_at, tasks.session_id,
        tasks.session_index, tasks.max_attempts, tasks.timeout_ms, tasks.backoff, tasks.tracking, tasks.created_at,
        tasks.concurrency_key),
    queued as (
      insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index, concurrency_key)
      select n.seq, 'queued', n.queue, n.type, n.priority, n.run_at, n.session_id, n.session_index, n.concurrency_key
      from ins n),
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
      idempotency_key, session_id, session_index, key, user_id, metadata, tracking, concurrency_key)
    select * from new_task_rows(p_tasks, p_default_max_attempts, p_default_backoff)
    on conflict do nothing
    returning tasks.id, tasks.seq, tasks.queue, tasks.type, tasks.priority, tasks.run_at, tasks.session_id,
      tasks.session_index, tasks.max_attempts, tasks.timeout_ms, tasks.backoff, tasks.tracking, tasks.created_at,
        tasks.concurrency_key),
  queued as (
    insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index, concurrency_key)
    select n.seq, 'queued', n.queue, n.type, n.priority, n.run_at, n.session_id, n.session_index, n.concurrency_key
    from ins n),
  woken as (
    select count(pg_notify(p_channel, w.queue || E'\t' || w.type || E'\t' || w.cnt)) as n
    from (select n.queue, n.type, count(*) as cnt from ins n where n.run_at <= n.created_at
      group by n.queue, n.type) w
    where p_channel is not null)
  select n.id, n.seq, (date_part('epoch', n.run_at) * 1000)::int8, n.max_attempts, n.timeout_ms,
    n.backoff::text, n.tracking, (date_part('epoch', n.created_at) * 1000)::int8
  from ins n, woken;
end $$;

-- A dependent released into the queue keeps its concurrency key there too; release_dependents is
-- otherwise as in version 10.
create or replace function release_dependents(p_seqs bigint[], p_statuses text[], p_only bigint[] default null)
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
          t.avoid_machine_id, t.avoid_labels, r.kind, t.concurrency_key),
      q as (
        insert into task_queue (seq, status, queue, type, priority, run_at, session_id, session_index,
          avoid_machine_id, avoid_labels, concurrency_key)
        select seq, 'queued', queue, type, priority, run_at, session_id, session_index, avoid_machine_id, avoid_labels,
          concurrency_key
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

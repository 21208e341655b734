-- Gaffer schema, version 16: wake-ups for limits that open again without a new task (issue 14).
-- A claim held back by a limit waits; until now only its fallback poll (0.5-1.5 s) looked again, so a
-- queue limited to 20 running drained at about 20 a second and a 500/s rate limit gave about 300/s.
-- Now the statement that frees a slot of a concurrency limit (a running task completes, fails, is
-- handed back, lapses or is deleted) wakes as many claims of its queue and type as slots it freed,
-- and a claim that fills a rate window says when it opens again ("in=<ms>", a fourth field of the
-- wake-up), so listeners wake that many claims then, on every server.

-- How many running tasks of each (queue, type) under a concurrency limit a statement stopped.
create function flow_freed_notify(p_freed json) returns void language plpgsql set search_path from current as $$
begin
  perform pg_notify('gaffer_wake_' || current_schema(), f.queue || E'\t' || f.type || E'\t' || f.n)
  from json_to_recordset(p_freed) as f(queue text, type text, n int)
  where f.n > 0 and exists (select 1 from flow_controls c
    where (c.concurrency is not null or c.key_concurrency is not null)
      and ((c.scope = 'queue' and c.name = f.queue) or (c.scope = 'type' and c.name = f.type)));
end $$;

-- The triggers that keep task_key_running (version 12) run on every update and delete of tasks
-- already; they now also send those wake-ups, so a statement pays no trigger of its own for them
-- (two more statement triggers cost the dag bench 13 % more database CPU per task). With no
-- concurrency limit anywhere, the addition is one probe of a table of a few rows.
create or replace function task_key_running_updated() returns trigger language plpgsql set search_path from current as $$
declare
  v_freed json;
begin
  if exists (select 1 from new_tasks n where n.concurrency_key is not null) then
    delete from task_key_running r using old_tasks o, new_tasks n
    where r.seq = o.seq and n.seq = o.seq and o.status = 'running' and n.status <> 'running';
    insert into task_key_running (seq, key, queue, type)
    select n.seq, n.concurrency_key, n.queue, n.type from new_tasks n join old_tasks o on o.seq = n.seq
    where n.concurrency_key is not null and n.status = 'running' and o.status <> 'running'
    on conflict (seq) do nothing;
  end if;
  if exists (select 1 from flow_controls c where c.concurrency is not null or c.key_concurrency is not null) then
    select json_agg(f) into v_freed from (
      select x.queue, x.type, sum(x.n)::int as n from (
        select o.queue, o.type, 1 as n from old_tasks o where o.status = 'running'
        union all
        select w.queue, w.type, -1 from new_tasks w where w.status = 'running') x
      group by 1, 2 having sum(x.n) > 0) f;
    if v_freed is not null then
      perform flow_freed_notify(v_freed);
    end if;
  end if;
  return null;
end $$;

create or replace function task_key_running_deleted() returns trigger language plpgsql set search_path from current as $$
declare
  v_freed json;
begin
  if exists (select 1 from old_tasks o where o.concurrency_key is not null and o.status = 'running') then
    delete from task_key_running r using old_tasks o where r.seq = o.seq;
  end if;
  if exists (select 1 from flow_controls c where c.concurrency is not null or c.key_concurrency is not null) then
    select json_agg(f) into v_freed from (
      select o.queue, o.type, count(*)::int as n from old_tasks o where o.status = 'running' group by 1, 2) f;
    if v_freed is not null then
      perform flow_freed_notify(v_freed);
    end if;
  end if;
  return null;
end $$;

-- Records the starts of a claim in the rate logs of the scopes and keys it started tasks in (the
-- caller holds their locks) and when each may start again while its window is full.
create or replace function flow_record_starts(p_taken flow_pick[], p_now timestamptz) returns void language plpgsql
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
  -- Nobody commits when a full window opens again: the claims of the pairs this claim started in
  -- are woken then (in ms from the claim's time, as the database's clock counts it).
  perform pg_notify('gaffer_wake_' || current_schema(), p.queue || E'\t' || p.type || E'\t' || c.rate_limit
      || E'\tin=' || least(ceil(extract(epoch from c.rate_limited_until - p_now) * 1000), c.rate_interval_ms)::int)
  from flow_controls c, (select distinct t.queue, t.type from unnest(p_taken) t) p
  where c.rate_limit is not null and c.rate_limited_until > p_now
    and ((c.scope = 'queue' and c.name = p.queue) or (c.scope = 'type' and c.name = p.type));
  -- Keys whose window this claim filled, one wake-up per 10 ms of opening time.
  perform pg_notify('gaffer_wake_' || current_schema(), f.queue || E'\t' || f.type || E'\t' || f.n
      || E'\tin=' || f.ms)
  from (select t.queue, t.type, count(*)::int as n,
      least(ceil(extract(epoch from k.limited_until - p_now) * 100) * 10, max(c.key_rate_interval_ms))::int as ms
    from (select distinct t.queue, t.type, t.key from unnest(p_taken) t where t.key is not null) t
    join flow_controls c on c.key_rate_limit is not null
      and ((c.scope = 'queue' and c.name = t.queue) or (c.scope = 'type' and c.name = t.type))
    join flow_key_rates k on k.scope = c.scope and k.name = c.name and k.key = t.key and k.limited_until > p_now
    group by t.queue, t.type, ceil(extract(epoch from k.limited_until - p_now) * 100)) f;
end $$;

-- Gaffer schema, version 13: the key walk of flow control reads only the rows it means to (issue 14).
--
-- In version 12 a key's head was read with "key = p_key or (p_key is null and key is null)" and the
-- next key with min(concurrency_key): the OR kept the key out of the index condition, so reading the
-- head of one key passed every row of the keys before it. With 100,000 tasks of a key at its limit and
-- 10 of another, a claim of the other key's task read 200,019 queue rows (40 ms); now 11 (0.6 ms),
-- measured with pg_stat_xact_user_tables. Each read is now its own statement in the index's order.

create or replace function flow_group_heads(p_type text, p_queue text, p_priority int, p_key text, p_n int,
  p_now timestamptz, p_machine text, p_labels jsonb, p_picked flow_pick[]) returns flow_pick[] language plpgsql
set search_path from current as $$
declare
  v_out flow_pick[];
begin
  -- Two statements, not one with "key = p_key or key is null": an OR would keep the key out of the
  -- index condition, and the walk would pass every other key's rows.
  if p_key is null then
    select coalesce(array_agg(row(c.seq, c.priority, c.run_at, c.type, c.queue, c.concurrency_key)::flow_pick), '{}')
    into v_out
    from (select q.seq, q.priority, q.run_at, q.type, q.queue, q.concurrency_key from task_queue q
      where q.type = p_type and q.queue = p_queue and q.priority = p_priority and q.concurrency_key is null
        and q.run_at <= p_now
        and (q.avoid_machine_id is null or q.avoid_machine_id <> p_machine)
        and (q.avoid_labels is null or not (p_labels @> q.avoid_labels))
      order by q.type, q.queue, q.priority desc, q.concurrency_key, q.run_at, q.seq
      limit p_n
      for update skip locked) c;
  else
    select coalesce(array_agg(row(c.seq, c.priority, c.run_at, c.type, c.queue, c.concurrency_key)::flow_pick), '{}')
    into v_out
    from (select q.seq, q.priority, q.run_at, q.type, q.queue, q.concurrency_key from task_queue q
      where q.type = p_type and q.queue = p_queue and q.priority = p_priority and q.concurrency_key = p_key
        and q.run_at <= p_now
        and (q.avoid_machine_id is null or q.avoid_machine_id <> p_machine)
        and (q.avoid_labels is null or not (p_labels @> q.avoid_labels))
        -- Rows this claim picked already: its own locks do not make SKIP LOCKED skip them.
        and not (q.seq = any(array(select x.seq from unnest(p_picked) x)))
      order by q.type, q.queue, q.priority desc, q.concurrency_key, q.run_at, q.seq
      limit p_n
      for update skip locked) c;
  end if;
  return v_out;
end $$;

-- The first key of (type, queue, priority) after p_after (from the first when null), by index.
create function flow_next_key(p_type text, p_queue text, p_priority int, p_after text) returns text
language plpgsql set search_path from current as $$
declare
  v_key text;
begin
  if p_after is null then
    select q.concurrency_key into v_key from task_queue q
    where q.type = p_type and q.queue = p_queue and q.priority = p_priority and q.concurrency_key is not null
    order by q.type, q.queue, q.priority desc, q.concurrency_key limit 1;
  else
    select q.concurrency_key into v_key from task_queue q
    where q.type = p_type and q.queue = p_queue and q.priority = p_priority and q.concurrency_key > p_after
    order by q.type, q.queue, q.priority desc, q.concurrency_key limit 1;
  end if;
  return v_key;
end $$;

-- The claim of one (type, queue) under a key limit: keys take turns. Within each priority (highest
-- first) it visits the keys in order starting after the key the last claim served (flow_cursors),
-- wrapping round, and takes one task of each key with room; then, while the budget lasts, one more of
-- each key that gave one, and so on. So keys of equal priority are served in rotation whatever their
-- backlogs (one tenant's 100k tasks do not delay another's ten by more than a turn), a key at its
-- limit costs one index probe and a count of its running tasks, and a claim visits at most
-- p_max_visits keys (when all are at their limits it goes on where it stopped next time).
create or replace function flow_take_keys(qc flow_controls, tc flow_controls, p_type text, p_queue text, p_budget int,
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
  order by q.type, q.queue, q.priority desc limit 1;
  while v_prio is not null and cardinality(v_out) < p_budget and v_visits < p_max_visits loop
    -- The keys of this priority after the cursor, then from the first up to the cursor.
    v_key := v_cursor;
    v_wrapped := v_cursor is null;
    if v_wrapped then
      v_key := flow_next_key(p_type, p_queue, v_prio, null);
    else
      v_key := flow_next_key(p_type, p_queue, v_prio, v_cursor);
      if v_key is null then
        v_wrapped := true;
        v_key := flow_next_key(p_type, p_queue, v_prio, null);
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
      v_key := flow_next_key(p_type, p_queue, v_prio, v_key);
      if v_key is null and not v_wrapped then
        v_wrapped := true;
        v_key := flow_next_key(p_type, p_queue, v_prio, null);
      end if;
    end loop;
    -- Tasks without a key are under no key limit: they take what the budget leaves at this priority.
    if cardinality(v_out) < p_budget then
      v_out := v_out || flow_group_heads(p_type, p_queue, v_prio, null, p_budget - cardinality(v_out),
        p_now, p_machine, p_labels, '{}');
    end if;
    select q.priority into v_prio from task_queue q where q.type = p_type and q.queue = p_queue
      and q.priority < v_prio order by q.type, q.queue, q.priority desc limit 1;
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


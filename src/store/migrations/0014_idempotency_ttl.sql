-- Gaffer schema, version 14: idempotency windows (issue 15, item 5).
--
-- An idempotency key held for ever until now; a create may give it a window (`idempotencyTtlMs`):
-- until idempotency_expires_at the key answers its task, after it a create with the key makes a
-- new task. The key stays unique in tasks (tasks_idempotency_key): a create whose key is taken
-- fails the one-statement insert as before, and the transaction that resolves it first releases
-- the keys whose window has passed (their old task keeps its row, without the key; an UPDATE of
-- that row, so two creates of one expired key serialise on it and the unique index lets one of
-- them have the key: the other answers that task), then inserts. A create whose keys are free,
-- and every create without a key, stays the one statement it was. Tasks without a window keep
-- idempotency_expires_at null: their key holds for ever.
alter table tasks add column idempotency_expires_at timestamptz;

-- The rows of a batch of new tasks, as in version 12 (unchanged since), with the end of each key's window.
drop function new_task_rows(json, int, jsonb);
create function new_task_rows(p_tasks json, p_default_max_attempts int, p_default_backoff jsonb)
returns table (id text, type text, queue text, payload jsonb, priority int, run_at timestamptz,
  max_attempts int, timeout_ms int, backoff jsonb, idempotency_key text, session_id text, session_index int,
  key text, user_id text, metadata jsonb, tracking text, concurrency_key text, idempotency_expires_at timestamptz)
language sql stable as $$
  select i.id, i.type, coalesce(i.queue, 'default'), coalesce(i.payload, 'null'), coalesce(i.priority, 0),
    coalesce(i."runAt", now() + make_interval(secs => coalesce(i."delayMs", 0) / 1000.0)),
    coalesce(i."maxAttempts", tt.max_attempts, p_default_max_attempts), coalesce(i."timeoutMs", tt.timeout_ms),
    case when i.backoff is null and tt.backoff is null then p_default_backoff
      else p_default_backoff || (case when jsonb_typeof(tt.backoff) = 'object' then tt.backoff else '{}' end)
        || coalesce(i.backoff, '{}') end,
    i."idempotencyKey", i."sessionId", i."sessionIndex", i.key, i."userId", coalesce(i.metadata, '{}'),
    coalesce(tt.tracking, 'track'), i."concurrencyKey",
    case when i."idempotencyTtlMs" is not null then now() + make_interval(secs => i."idempotencyTtlMs" / 1000.0) end
  from json_to_recordset(p_tasks) as i(id text, type text, queue text, payload jsonb, priority int,
    "runAt" timestamptz, "delayMs" int, "maxAttempts" int, "timeoutMs" int, backoff jsonb, "idempotencyKey" text,
    "sessionId" text, "sessionIndex" int, key text, "userId" text, metadata jsonb, "concurrencyKey" text,
    "idempotencyTtlMs" bigint)
  left join lateral (select * from task_types t where t.type = i.type offset 0) tt on true
$$;

-- insert_tasks as in version 12 (unchanged since), inserting the window's end too.
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
        idempotency_key, session_id, session_index, key, user_id, metadata, tracking, concurrency_key,
        idempotency_expires_at)
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
      idempotency_key, session_id, session_index, key, user_id, metadata, tracking, concurrency_key,
        idempotency_expires_at)
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

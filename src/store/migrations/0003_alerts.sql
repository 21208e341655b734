-- Gaffer schema, version 3: alerts (R7.3). The maintenance leader evaluates the alert
-- rules and keeps one row per firing (rule, subject) until it resolves; resolved rows
-- stay for a while as history.

create table alerts (
  id bigint generated always as identity primary key,
  rule text not null,
  -- What the finding is about within its rule (a queue, a type, or '' for the whole system).
  subject text not null default '',
  severity text not null default 'warning' check (severity in ('warning', 'critical')),
  status text not null check (status in ('firing', 'resolved')),
  summary text not null,
  value double precision,
  threshold double precision,
  labels jsonb not null default '{}',
  fired_at timestamptz not null,
  resolved_at timestamptz,
  last_evaluated_at timestamptz not null
);
-- At most one firing alert per rule and subject, even if two nodes evaluated at once.
create unique index alerts_firing on alerts (rule, subject) where status = 'firing';
create index alerts_recent on alerts (fired_at desc, id desc);
create index alerts_resolved on alerts (resolved_at) where resolved_at is not null;

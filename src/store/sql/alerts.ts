import type { Queryable } from '../db.js';
import type { Alert, AlertStatus, SyncAlertsParams, SyncAlertsResult } from '../observability.js';

const ALERT_COLUMNS = `a.id, a.rule, a.subject, a.severity, a.status, a.summary, a.value, a.threshold, a.labels,
  a.fired_at, a.resolved_at, a.last_evaluated_at`;

interface AlertRow {
  id: number | string;
  rule: string;
  subject: string;
  severity: Alert['severity'];
  status: AlertStatus;
  summary: string;
  value: number | null;
  threshold: number | null;
  labels: Record<string, string> | null;
  fired_at: Date | string;
  resolved_at: Date | string | null;
  last_evaluated_at: Date | string;
}

const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

function rowToAlert(r: AlertRow): Alert {
  return {
    id: Number(r.id),
    rule: r.rule,
    subject: r.subject,
    severity: r.severity,
    status: r.status,
    summary: r.summary,
    value: r.value,
    threshold: r.threshold,
    labels: r.labels ?? {},
    firedAt: date(r.fired_at),
    resolvedAt: r.resolved_at === null ? null : date(r.resolved_at),
    lastEvaluatedAt: date(r.last_evaluated_at),
  };
}

/** Firing alerts whose finding is gone resolve now. */
const RESOLVE_GONE = `
update alerts a set status = 'resolved', resolved_at = coalesce($1::timestamptz, now()),
  last_evaluated_at = coalesce($1::timestamptz, now())
where a.status = 'firing'
  and not exists (select 1 from unnest($2::text[], $3::text[]) as i(rule, subject)
    where i.rule = a.rule and i.subject = a.subject)
returning ${ALERT_COLUMNS}`;

/** A new finding fires; one already firing keeps its fired_at and takes the latest value. */
const UPSERT_FIRING = `
insert into alerts as a (rule, subject, severity, status, summary, value, threshold, labels, fired_at, last_evaluated_at)
select i.rule, i.subject, i.severity, 'firing', i.summary, i.value, i.threshold, i.labels::jsonb,
  coalesce($1::timestamptz, now()), coalesce($1::timestamptz, now())
from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::text[])
  as i(rule, subject, severity, summary, value, threshold, labels)
on conflict (rule, subject) where status = 'firing' do update set
  severity = excluded.severity, summary = excluded.summary, value = excluded.value,
  threshold = excluded.threshold, labels = excluded.labels, last_evaluated_at = excluded.last_evaluated_at
returning ${ALERT_COLUMNS}, (a.xmax = 0) as inserted`;

const PRUNE_RESOLVED = `
delete from alerts a where a.status = 'resolved'
  and a.resolved_at < coalesce($1::timestamptz, now()) - make_interval(secs => $2::float8 / 1000.0)`;

const DEFAULT_KEEP_RESOLVED_MS = 7 * 24 * 3600_000;

/**
 * Records one evaluation of the alert rules inside `tx`: what is in `firing`
 * fires (or stays firing), what was firing and is not resolves. The leader runs
 * it; the unique index keeps one firing row per rule and subject regardless.
 */
export async function syncAlerts(tx: Queryable, p: SyncAlertsParams): Promise<SyncAlertsResult> {
  const now = p.now ?? null;
  // One row per rule and subject: an upsert may not touch the same row twice in a statement.
  const firing = [...new Map(p.firing.map((f) => [`${f.rule}\u0000${f.subject}`, f])).values()];
  const rules = firing.map((f) => f.rule);
  const subjects = firing.map((f) => f.subject);
  const resolved = await tx.query<AlertRow>(RESOLVE_GONE, [now, rules, subjects]);
  const upserted =
    firing.length === 0
      ? { rows: [] as Array<AlertRow & { inserted: boolean }> }
      : await tx.query<AlertRow & { inserted: boolean }>(UPSERT_FIRING, [
          now,
          rules,
          subjects,
          firing.map((f) => f.severity),
          firing.map((f) => f.summary),
          firing.map((f) => f.value),
          firing.map((f) => f.threshold),
          firing.map((f) => JSON.stringify(f.labels ?? {})),
        ]);
  await tx.query(PRUNE_RESOLVED, [now, p.keepResolvedMs ?? DEFAULT_KEEP_RESOLVED_MS]);
  return {
    fired: upserted.rows.filter((r) => r.inserted).map(rowToAlert),
    resolved: resolved.rows.map(rowToAlert),
    firing: upserted.rows.map(rowToAlert),
  };
}

export async function listAlerts(
  db: Queryable,
  p: { status?: AlertStatus; limit?: number } = {},
): Promise<Alert[]> {
  const limit = Math.min(Math.max(p.limit ?? 100, 1), 1000);
  const res = await db.query<AlertRow>(
    `select ${ALERT_COLUMNS} from alerts a where ($1::text is null or a.status = $1)
     order by (a.status = 'firing') desc, a.fired_at desc, a.id desc limit $2`,
    [p.status ?? null, limit],
  );
  return res.rows.map(rowToAlert);
}

import type {
  Alert,
  AlertInput,
  AlertSeverity,
  MetricsSnapshot,
  SyncAlertsResult,
} from '../store/observability.js';
import type { Store } from '../store/store.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import { WebhookNotifier, type WebhookOptions } from './webhook.js';

/** The built-in rules (R7.3); each can be turned off or retuned in configuration. */
export interface AlertRules {
  /** Dead letters (tasks that ended failed) above `threshold`, all queues together. */
  deadLetters: { enabled: boolean; threshold: number; severity: AlertSeverity };
  /** A queue's oldest runnable task has waited longer than `thresholdMs`. */
  oldestQueued: { enabled: boolean; thresholdMs: number; severity: AlertSeverity };
  /**
   * Runnable work of a type (in a queue) that no live worker takes. It must have
   * waited `minAgeMs` first, so a burst created just before workers start is quiet.
   */
  noLiveWorker: { enabled: boolean; minAgeMs: number; severity: AlertSeverity };
}

export const DEFAULT_ALERT_RULES: AlertRules = {
  deadLetters: { enabled: true, threshold: 5, severity: 'warning' },
  oldestQueued: { enabled: true, thresholdMs: 30 * 60_000, severity: 'warning' },
  noLiveWorker: { enabled: true, minAgeMs: 60_000, severity: 'critical' },
};

export type AlertRulesConfig = { [K in keyof AlertRules]?: Partial<AlertRules[K]> };

export function resolveRules(cfg: AlertRulesConfig = {}): AlertRules {
  return {
    deadLetters: { ...DEFAULT_ALERT_RULES.deadLetters, ...cfg.deadLetters },
    oldestQueued: { ...DEFAULT_ALERT_RULES.oldestQueued, ...cfg.oldestQueued },
    noLiveWorker: { ...DEFAULT_ALERT_RULES.noLiveWorker, ...cfg.noLiveWorker },
  };
}

/**
 * Runnable work no live worker would claim: a worker with no types (or queues) takes any. Work of a
 * paused queue or type is left out: it waits because someone paused it, not for a missing worker.
 */
export function unservedWork(s: MetricsSnapshot): MetricsSnapshot['waiting'] {
  const paused = new Set((s.paused ?? []).map((p) => `${p.scope}\u0000${p.name}`));
  return s.waiting.filter(
    (w) =>
      !paused.has(`queue\u0000${w.queue}`) &&
      !paused.has(`type\u0000${w.type}`) &&
      !s.liveWorkers.some(
        (lw) =>
          (lw.types.length === 0 || lw.types.includes(w.type)) &&
          (lw.queues.length === 0 || lw.queues.includes(w.queue)),
      ),
  );
}

function minutes(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

/** Applies the rules to one snapshot: what should be firing now. Pure, so tests feed it snapshots. */
export function evaluateRules(s: MetricsSnapshot, rules: AlertRules): AlertInput[] {
  const out: AlertInput[] = [];
  const dl = rules.deadLetters;
  if (dl.enabled) {
    const total = s.deadLetters.reduce((n, d) => n + d.count, 0);
    if (total > dl.threshold) {
      const byType = new Map<string, number>();
      for (const d of s.deadLetters) byType.set(d.type, (byType.get(d.type) ?? 0) + d.count);
      const top = [...byType]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ');
      out.push({
        rule: 'dead_letters',
        subject: '',
        severity: dl.severity,
        summary: `${total} dead letters (more than ${dl.threshold}): ${top}`,
        value: total,
        threshold: dl.threshold,
        labels: {},
      });
    }
  }
  const oq = rules.oldestQueued;
  if (oq.enabled) {
    const oldest = new Map<string, number>();
    for (const w of s.waiting) oldest.set(w.queue, Math.max(oldest.get(w.queue) ?? 0, w.oldestAgeMs));
    for (const [queue, ms] of oldest) {
      if (ms <= oq.thresholdMs) continue;
      out.push({
        rule: 'oldest_queued',
        subject: queue,
        severity: oq.severity,
        summary: `the oldest runnable task in queue ${queue} has waited ${minutes(ms)} (more than ${minutes(oq.thresholdMs)})`,
        value: ms / 1000,
        threshold: oq.thresholdMs / 1000,
        labels: { queue },
      });
    }
  }
  const nw = rules.noLiveWorker;
  if (nw.enabled) {
    for (const w of unservedWork(s)) {
      if (w.oldestAgeMs < nw.minAgeMs) continue;
      out.push({
        rule: 'no_live_worker',
        subject: `${w.queue}/${w.type}`,
        severity: nw.severity,
        summary: `${w.count} task(s) of type ${w.type} in queue ${w.queue} are waiting and no live worker takes them`,
        value: w.count,
        threshold: 0,
        labels: { queue: w.queue, type: w.type },
      });
    }
  }
  return out;
}

export interface AlertOptions {
  rules?: AlertRulesConfig;
  /** POST every firing and resolved alert here (GAFFER_ALERT_WEBHOOK_URL). */
  webhookUrl?: string;
  webhook?: Partial<Omit<WebhookOptions, 'url' | 'logger'>>;
  /** How often the maintenance service evaluates (default 15 s). */
  intervalMs?: number;
  /** Resolved alerts are kept this long (default 7 days). */
  keepResolvedMs?: number;
  logger?: Logger;
  /** The evaluation clock; omitted: the database's. Tests move it instead of sleeping. */
  now?: () => Date;
}

/** What the webhook receives; `text` makes chat incoming-webhooks (Slack, Mattermost) show it as is. */
export interface AlertMessage {
  source: 'gaffer';
  status: Alert['status'];
  text: string;
  alert: Alert;
}

function alertFields(a: Alert) {
  return {
    alertId: a.id,
    rule: a.rule,
    subject: a.subject,
    severity: a.severity,
    value: a.value,
    threshold: a.threshold,
    ...a.labels,
  };
}

/**
 * Evaluates the rules on the maintenance leader, keeps the alerts table in step
 * (fired / resolved times), logs alert_firing / alert_resolved, and sends both to
 * the webhook when one is configured.
 */
export class AlertService {
  readonly rules: AlertRules;
  readonly intervalMs: number;
  readonly webhook: WebhookNotifier | null;
  private readonly log: Logger;

  constructor(
    private readonly store: Pick<Store, 'tryLeadership' | 'metricsSnapshot' | 'syncAlerts'>,
    private readonly opts: AlertOptions = {},
  ) {
    this.rules = resolveRules(opts.rules);
    this.intervalMs = opts.intervalMs ?? 15_000;
    this.log = opts.logger ?? silentLogger;
    this.webhook = opts.webhookUrl
      ? new WebhookNotifier({ ...opts.webhook, url: opts.webhookUrl, logger: this.log })
      : null;
  }

  /** One evaluation; null when another node holds the lock this round. */
  async evaluate(): Promise<SyncAlertsResult | null> {
    const now = this.opts.now?.();
    const out = await this.store.tryLeadership('alerts', async () => {
      const snap = await this.store.metricsSnapshot({ now });
      return this.store.syncAlerts({
        firing: evaluateRules(snap, this.rules),
        now,
        keepResolvedMs: this.opts.keepResolvedMs,
      });
    });
    if (!out) return null;
    for (const a of out.fired) {
      this.log.warn({ event: 'alert_firing', ...alertFields(a) }, a.summary);
      this.webhook?.enqueue(this.message(a));
    }
    for (const a of out.resolved) {
      this.log.info({ event: 'alert_resolved', ...alertFields(a) }, `resolved: ${a.summary}`);
      this.webhook?.enqueue(this.message(a));
    }
    return out;
  }

  private message(a: Alert): AlertMessage {
    const head = a.status === 'firing' ? `[gaffer] FIRING (${a.severity})` : '[gaffer] RESOLVED';
    return { source: 'gaffer', status: a.status, text: `${head}: ${a.summary}`, alert: a };
  }

  /**
   * Waits for webhook deliveries under way, at most `maxWaitMs`: a receiver that is down
   * (retries with backoff) must not hold up a shutdown for long.
   */
  async idle(maxWaitMs = 5000): Promise<void> {
    if (!this.webhook) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.webhook.idle(),
      new Promise<void>((r) => {
        timer = setTimeout(r, maxWaitMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

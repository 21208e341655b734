import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';

export interface WebhookOptions {
  url: string;
  /** Deliveries tried per message before giving up (default 5). */
  attempts: number;
  /** First wait between tries; doubles each time (default 1000 ms). */
  backoffMs: number;
  maxBackoffMs: number;
  /** Per request (default 5000 ms). */
  timeoutMs: number;
  headers: Record<string, string>;
  logger: Logger;
  /** Waits between tries (tests shorten it). */
  sleep: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    t.unref();
  });

/** The host only: webhook URLs often carry a secret in their path or query. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * POSTs JSON messages to one URL, one at a time in order, retrying with
 * exponential backoff on network errors, 5xx and 429; other 4xx answers are
 * final (the receiver refused the message; sending it again will not help).
 * Delivery runs in the background so an alert evaluation never waits on it.
 */
export class WebhookNotifier {
  readonly options: WebhookOptions;
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(opts: Partial<WebhookOptions> & { url: string }) {
    this.options = {
      attempts: 5,
      backoffMs: 1000,
      maxBackoffMs: 60_000,
      timeoutMs: 5000,
      headers: {},
      logger: silentLogger,
      sleep: defaultSleep,
      ...opts,
    };
    // Refuse a malformed URL at configuration time, not at the first alert.
    if (!URL.canParse(this.options.url)) throw new Error('the alert webhook URL is not a valid absolute URL');
  }

  /** Queues a message; delivered after those queued before it. */
  enqueue(body: unknown): void {
    this.pending++;
    this.tail = this.tail
      .then(() => this.send(body))
      .finally(() => {
        this.pending--;
      });
  }

  /** Resolves when every queued message was delivered or given up on. */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.tail.catch(() => {});
  }

  /** Delivers one message; true when the receiver answered 2xx. */
  async send(body: unknown): Promise<boolean> {
    const o = this.options;
    const target = safeUrl(o.url);
    for (let attempt = 1; attempt <= o.attempts; attempt++) {
      let retryable = true;
      let why: string;
      try {
        const res = await fetch(o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'gaffer-alerts', ...o.headers },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          o.logger.debug({ event: 'alert_webhook_sent', url: target, attempt }, 'alert webhook delivered');
          return true;
        }
        retryable = res.status >= 500 || res.status === 429;
        why = `HTTP ${res.status}`;
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
      const last = attempt === o.attempts || !retryable;
      o.logger.warn(
        {
          event: 'alert_webhook_failed',
          url: target,
          attempt,
          attempts: o.attempts,
          reason: why,
          final: last,
        },
        last ? 'alert webhook failed; giving up' : 'alert webhook failed; will retry',
      );
      if (last) return false;
      await o.sleep(Math.min(o.maxBackoffMs, o.backoffMs * 2 ** (attempt - 1)));
    }
    return false;
  }
}

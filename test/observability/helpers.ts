import { Writable } from 'node:stream';
import { dropPgliteStore, dropPostgresStore, makePgliteStore, makePostgresStore } from '../helpers/stores.js';

/** Both drivers, for describe.each: every observability test runs on PGlite and PostgreSQL. */
export const DRIVERS = [
  { name: 'pglite', make: makePgliteStore, drop: dropPgliteStore },
  { name: 'postgres', make: makePostgresStore, drop: dropPostgresStore },
] as const;

/** Polls until fn returns a truthy value: tests wait on state, not on the clock. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Parses the Prometheus text format into `name{a="1",b="2"}` → value, labels sorted. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = m[3]
      ? [...m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => `${x[1]}="${x[2]}"`)
      : [];
    out.set(key(m[1]!, labels), Number(m[4]));
  }
  return out;
}

function key(name: string, labels: string[]): string {
  return labels.length ? `${name}{${[...labels].sort().join(',')}}` : name;
}

/** One sample's value, or undefined when the series is absent. */
export function sample(
  samples: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.get(
    key(
      name,
      Object.entries(labels).map(([k, v]) => `${k}="${v}"`),
    ),
  );
}

/** A writable that keeps what pino writes, split into parsed JSON lines. */
export class LogCapture extends Writable {
  private buffer = '';
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  /** Lines that were not JSON: a test asserts this stays empty. */
  readonly unparsable: string[] = [];

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.buffer += chunk.toString();
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim()) {
        this.raw.push(line);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.unparsable.push(line);
        }
      }
      nl = this.buffer.indexOf('\n');
    }
    done();
  }

  events(name: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.event === name);
  }
}

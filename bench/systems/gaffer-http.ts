import type { BenchConfig } from '../lib/types.js';
import type { SystemDriver } from './driver.js';

/** Placeholder until the HTTP server and HttpTransport land. */
export default function gafferHttp(_cfg: BenchConfig): SystemDriver {
  throw new Error('the HTTP server (src/server/app.ts) and HttpTransport are not available yet');
}

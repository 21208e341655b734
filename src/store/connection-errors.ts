/**
 * Errors that mean "the database cannot be reached right now" (refused, reset, terminated,
 * restarting), as opposed to a statement that was wrong. The server answers them 503; a worker
 * retries a report that failed with one instead of turning it into a failed attempt.
 */
// pg and network codes that mean "the database cannot be reached right now".
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01', // admin_shutdown (pg_terminate_backend, restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up)
  '53300', // too_many_connections
]);
const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /connection (?:was )?closed/i,
  /timeout exceeded when trying to connect/i,
  /client has encountered a connection error/i,
  /cannot use a pool after calling end/i,
  /the database system is (?:starting up|shutting down)/i,
];

/** True when `err` says the database is unreachable (not that a query was wrong). */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (CONNECTION_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  if (typeof e.message === 'string' && CONNECTION_MESSAGES.some((re) => re.test(e.message as string)))
    return true;
  // Node's AggregateError (a refused connection on both IPv4 and IPv6).
  return Array.isArray(e.errors) && e.errors.some(isConnectionError);
}

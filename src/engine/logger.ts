import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Gaffer logs JSON lines through pino; every line that marks something a user
 * may search for carries a named `event` (see docs/OBSERVABILITY.md).
 * GAFFER_LOG_LEVEL sets the level (default info; "silent" turns logs off).
 */
export function createLogger(opts: { name?: string; level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.GAFFER_LOG_LEVEL ?? 'info';
  return pino(
    {
      name: opts.name ?? 'gaffer',
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'req.headers.authorization'], remove: true },
    },
    pino.destination({ dest: 2, sync: false }),
  );
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = pino({ level: 'silent' });

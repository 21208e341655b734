import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LoggerOptions {
  name?: string;
  /** Default GAFFER_LOG_LEVEL, else info; "silent" turns logs off. */
  level?: string;
  /**
   * true: human-readable lines (pino-pretty); false: JSON lines; 'auto': pretty when
   * stderr is a terminal (what the CLI asks for). GAFFER_LOG_PRETTY=1 / 0 overrides all.
   */
  pretty?: boolean | 'auto';
  /** Where lines go (default stderr, asynchronously); tests pass a stream to read them back. */
  destination?: DestinationStream | NodeJS.WritableStream;
}

/**
 * Fields censored wherever they appear at the top level or one level down: API
 * tokens, the Authorization header, database URLs (they carry passwords) and
 * webhook URLs (they often carry a token in the path). Gaffer's own log calls
 * never pass secrets elsewhere; this is the safety net for the names above.
 */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'databaseUrl',
  '*.databaseUrl',
  'webhookUrl',
  '*.webhookUrl',
];

/**
 * Whether to colour what goes to a stream: NO_COLOR (any value) turns colours off, FORCE_COLOR
 * turns them on (unless it is 0 or false), and otherwise only a terminal gets them.
 */
export function wantsColour(stream: { isTTY?: boolean } = process.stdout, env = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return stream.isTTY === true;
}

/** Decides pretty output: the environment wins, then the option, then whether stderr is a terminal. */
export function wantsPretty(
  opt: LoggerOptions['pretty'],
  env = process.env,
  isTTY = process.stderr.isTTY,
): boolean {
  const forced = env.GAFFER_LOG_PRETTY;
  if (forced === '1' || forced === 'true') return true;
  if (forced === '0' || forced === 'false') return false;
  if (opt === 'auto') return isTTY === true;
  return opt === true;
}

/**
 * Gaffer logs JSON lines through pino; every line that marks something a user
 * may search for carries a named `event` and the task, session and worker ids
 * that apply (see docs/OBSERVABILITY.md).
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.GAFFER_LOG_LEVEL ?? 'info';
  const options: pino.LoggerOptions = {
    name: opts.name ?? 'gaffer',
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (wantsPretty(opts.pretty)) {
    return pino(
      options,
      pretty({
        destination: opts.destination ?? 2,
        colorize: opts.destination === undefined && wantsColour(process.stderr),
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,name',
        singleLine: true,
        // "12:00:01.123 INFO: task_failed task failed {taskId: ...}": the event name first, for eyes.
        messageFormat: (log, key) =>
          log.event ? `${String(log.event)} ${String(log[key] ?? '')}` : String(log[key] ?? ''),
      }),
    );
  }
  return pino(options, opts.destination ?? pino.destination({ dest: 2, sync: false }));
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = pino({ level: 'silent' });

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { GafferError, type GafferErrorCode } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import { isConnectionError } from '../store/connection-errors.js';

/**
 * One error shape for the whole API: RFC 9457 problem details with a stable
 * `code` (the same codes GafferError carries, so the HTTP client can rebuild the
 * error) and a `detail` that tells the caller what to fix. Never a stack trace.
 */
export const STATUS_OF: Record<GafferErrorCode, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  illegal_transition: 409,
  lease_lost: 409,
  retry_limit: 409,
  not_eligible: 409,
  worker_not_live: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  field?: string;
  [extra: string]: unknown;
}

export function problem(
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
): ProblemBody {
  return {
    type: `https://gaffer.dev/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...extra,
  };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  if (body.status === 401) reply.header('www-authenticate', 'Bearer realm="gaffer"');
  return reply.code(body.status).type('application/problem+json').send(JSON.stringify(body));
}

// isConnectionError lives with the store (the worker needs it too); re-exported for the routes.
export { isConnectionError };

export function unavailableReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg =
    e.message || (Array.isArray((err as { errors?: unknown[] }).errors) ? 'connection refused' : String(err));
  return `the database is unreachable (${e.code ? `${e.code}: ` : ''}${msg}); the server retries by itself, try again shortly`;
}

/** "/tasks/2/type" → "tasks[2].type" */
export function fieldPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number' || /^\d+$/.test(String(p))) out += `[${p}]`;
    else out += out ? `.${p}` : String(p);
  }
  return out;
}

function joinDetail(field: string, message: string): string {
  if (!field) return message;
  return /^[a-z]/.test(message) ? `${field} ${message}` : `${field}: ${message}`;
}

interface ValidationIssue {
  instancePath: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

interface ZodIssueLike {
  code?: string;
  path?: Array<string | number>;
  message?: string;
  keys?: string[];
}

/**
 * A union failed every branch: report the branch that came closest (fewest
 * issues), so "key is required" beats "Invalid input".
 */
function fromUnion(issue: ValidationIssue): ValidationIssue {
  const branches = issue.params?.errors as ZodIssueLike[][] | undefined;
  if (!Array.isArray(branches) || branches.length === 0) return issue;
  const best = [...branches].sort((a, b) => a.length - b.length)[0]?.[0];
  if (!best) return issue;
  const base = issue.instancePath.split('/').filter((s) => s.length > 0);
  return {
    instancePath: `/${[...base, ...(best.path ?? [])].join('/')}`,
    message: best.message,
    keyword: best.code,
    params: { keys: best.keys },
  };
}

/** One invalid field of a request, as the problem's `errors` list carries it. */
export interface FieldError {
  field: string;
  message: string;
}

function describeIssue(raw: ValidationIssue, where: string): FieldError & { label: string } {
  const issue = raw.keyword === 'invalid_union' ? fromUnion(raw) : raw;
  const segments = (issue.instancePath ?? '').split('/').filter((s) => s.length > 0);
  let field = fieldPath(segments);
  let message = issue.message ?? 'is invalid';
  if (issue.keyword === 'unrecognized_keys') {
    const keys = (issue.params?.keys as string[] | undefined) ?? [];
    field = fieldPath([...segments, keys[0] ?? '?']);
    message = `is not a known field${keys.length > 1 ? ` (nor ${keys.slice(1).join(', ')})` : ''}; check its spelling against the API docs`;
  } else if (issue.keyword === 'invalid_type' && /received undefined/.test(message)) {
    message = 'is required';
  }
  const label = field
    ? where === 'body'
      ? field
      : `${where === 'querystring' ? 'query' : where} ${field}`
    : where;
  return { field: field || where, message, label };
}

/** "a is required" for one; "3 fields are invalid: a is required; b …" for several. */
export function summarise(errors: ReadonlyArray<{ label?: string; field: string; message: string }>): string {
  const parts = errors.map((e) => joinDetail(e.label ?? e.field, e.message));
  if (parts.length === 1) return parts[0] as string;
  return `${parts.length} fields are invalid: ${parts.join('; ')}`;
}

/** Turns a zod validation failure into a problem listing every wrong field (`errors`), the first as `field`. */
function validationProblem(err: FastifyError): ProblemBody {
  const where = (err as { validationContext?: string }).validationContext ?? 'body';
  const issues = (err.validation ?? []) as ValidationIssue[];
  const described = (issues.length > 0 ? issues : [{ instancePath: '' }]).map((i) => describeIssue(i, where));
  return problem(400, 'validation', summarise(described), {
    field: described[0]?.field,
    errors: described.map(({ field, message }) => ({ field, message })),
  });
}

export function toProblem(err: unknown): ProblemBody {
  if (err instanceof GafferError) {
    const status = STATUS_OF[err.code] ?? 500;
    const extra: Record<string, unknown> = {};
    const field = err.details?.field;
    if (typeof field === 'string') extra.field = field;
    const errors = err.details?.errors;
    if (Array.isArray(errors)) extra.errors = errors;
    else if (typeof field === 'string' && status === 400) {
      const message = err.message.startsWith(`${field} `) ? err.message.slice(field.length + 1) : err.message;
      extra.errors = [{ field, message }];
    }
    return problem(status, err.code, err.message, extra);
  }
  const fe = err as FastifyError;
  if (hasZodFastifySchemaValidationErrors(fe) || (fe && Array.isArray(fe.validation)))
    return validationProblem(fe);
  if (isConnectionError(err)) return problem(503, 'unavailable', unavailableReason(err));
  // PostgreSQL's class 22, "data exception": a value the database cannot hold (a NUL character,
  // a number or date out of range) came in the request, which nothing before the SQL refused.
  if (typeof fe?.code === 'string' && /^22[0-9A-Z]{3}$/.test(fe.code)) {
    return problem(400, 'validation', `a value in the request cannot be stored: ${fe.message}`);
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(
        413,
        'payload_too_large',
        'the request body is over the size limit; send smaller payloads or fewer tasks per call',
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem(400, 'validation', `the body is not valid JSON: ${fe.message}`, { field: 'body' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(415, 'validation', 'send the body as application/json', { field: 'content-type' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem(400, 'validation', 'the Content-Length header does not match the body', {
        field: 'body',
      });
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return problem(fe.statusCode, fe.statusCode === 429 ? 'rate_limited' : 'validation', fe.message);
  }
  return problem(500, 'internal', 'the server failed to answer this request; see its log for the cause');
}

/** Installs the error and not-found handlers that answer with problem documents. */
export function installProblemHandlers(
  app: FastifyInstance,
  log: Logger,
  fallback?: (req: FastifyRequest, reply: FastifyReply) => boolean,
): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const body = toProblem(err);
    if (body.status >= 500) {
      if (body.code === 'unavailable')
        log.warn({ event: 'database_unavailable', url: req.url, err: String(err) }, body.detail);
      else log.error({ event: 'request_failed', url: req.url, method: req.method, err }, 'request failed');
    }
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((req, reply) => {
    if (fallback?.(req, reply)) return reply;
    return sendProblem(
      reply,
      problem(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}; see /api/docs for the API`),
    );
  });
}

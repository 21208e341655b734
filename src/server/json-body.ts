import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../core/errors.js';
import { findBodyProblems, jsonProblemError } from '../core/json-limits.js';

/**
 * The API's JSON body parser. Plain JSON.parse (V8's parser is not recursive, so depth cannot
 * overflow it) keeps `__proto__` and `constructor` keys as ordinary data: JSON.parse defines them
 * as own properties, so they never reach an object's prototype, and Gaffer stores payloads as
 * JSON text without merging them into other objects. Then one iterative walk refuses, with the
 * field named, what the database could not store as sent or what would overflow a recursive
 * step later: nesting past MAX_JSON_DEPTH, NUL characters, unpaired surrogates, and numbers that
 * overflow to Infinity (`1e400`, silently null in jsonb).
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    const body = String(text);
    if (body.trim() === '') {
      done(
        new ValidationError('the body is empty: send a JSON document, or no Content-Type header', {
          field: 'body',
        }),
        undefined,
      );
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (err) {
      done(
        new ValidationError(`the body is not valid JSON: ${(err as Error).message}`, { field: 'body' }),
        undefined,
      );
      return;
    }
    const problems = findBodyProblems(value);
    if (problems.length > 0) {
      done(jsonProblemError(problems), undefined);
      return;
    }
    done(null, value);
  });
}

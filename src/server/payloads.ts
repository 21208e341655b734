import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';
import { ValidationError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import type { Json, TaskTypeConfig } from '../store/types.js';

// ajv and ajv-formats are CommonJS with `exports.default`; createRequire keeps NodeNext typing simple.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default as typeof import('ajv/dist/2020.js').default;
const addFormats = require('ajv-formats').default as typeof import('ajv-formats').default;

/** How long a type's config is trusted before it is read again (a PUT on this node refreshes it at once). */
export const TYPE_TTL_MS = 2000;
/** Compiled schemas kept (by schema text); each has an Ajv instance of its own. */
const MAX_COMPILED = 256;
/** Invalid fields listed in one answer at most. */
const MAX_ERRORS = 100;

/**
 * `pattern` and `patternProperties` run on RE2 (re2js, a pure-JavaScript port): matching is linear
 * in the input, so a schema like `^(a+)+$` cannot make one payload freeze the event loop, as a
 * backtracking engine would. RE2 has no backreferences or lookaround; a schema using them is refused.
 */
const re2 = Object.assign((pattern: string, _u: string) => RE2JS.compile(pattern), {
  code: 'require("re2js").RE2JS.compile',
});

export interface SchemaFieldError {
  field: string;
  message: string;
}

/**
 * Checks payloads against their type's JSON Schema (R1.2) at creation. Each schema is compiled
 * on its own Ajv instance, so schemas never share a registry: a schema with an `$id` can change
 * (the new text compiles afresh) and two types may use the same `$id`. Compiled schemas are cached
 * by their text; type configs for TYPE_TTL_MS, so a change made on another node is seen here
 * within that time and compiled then.
 */
export class PayloadValidator {
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly types = new Map<string, { config: TaskTypeConfig | null; until: number }>();

  constructor(private readonly store: Store) {}

  /** Compiles a schema, refusing one that is not valid JSON Schema. */
  compile(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    const hit = this.compiled.get(key);
    if (hit) {
      // Least recently used goes first: re-insert on use.
      this.compiled.delete(key);
      this.compiled.set(key, hit);
      return hit;
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      if (typeof schema !== 'boolean') {
        throw new ValidationError('payloadSchema must be a JSON Schema object', { field: 'payloadSchema' });
      }
    }
    // Schemas from zod or draft-07 name their dialect; the 2020-12 validator reads both alike for the
    // keywords payloads use, so the declaration is dropped rather than refused.
    const copy =
      typeof schema === 'object' && schema !== null ? { ...(schema as Record<string, Json>) } : schema;
    if (typeof copy === 'object' && copy !== null) delete (copy as Record<string, Json>).$schema;
    const ajv = new Ajv2020({
      strict: false,
      allErrors: true,
      validateFormats: true,
      code: { regExp: re2 },
    });
    addFormats(ajv);
    let fn: ValidateFunction;
    try {
      fn = ajv.compile(copy as object);
    } catch (err) {
      const msg = (err as Error).message;
      const hint = /error parsing regexp/.test(msg)
        ? ' (patterns run on RE2, which has no backreferences or lookaround, so matching stays linear)'
        : '';
      throw new ValidationError(`payloadSchema is not a valid JSON Schema: ${msg}${hint}`, {
        field: 'payloadSchema',
      });
    }
    if (this.compiled.size >= MAX_COMPILED) {
      const oldest = this.compiled.keys().next().value;
      if (oldest !== undefined) this.compiled.delete(oldest);
    }
    this.compiled.set(key, fn);
    return fn;
  }

  /** Forgets a type's cached config (after it changed on this node). */
  forget(type: string): void {
    this.types.delete(type);
  }

  private async config(type: string): Promise<TaskTypeConfig | null> {
    const hit = this.types.get(type);
    if (hit && hit.until > Date.now()) return hit.config;
    const config = await this.store.getTaskType(type);
    if (this.types.size > 10_000) this.types.clear();
    this.types.set(type, { config, until: Date.now() + TYPE_TTL_MS });
    return config;
  }

  /**
   * Throws a ValidationError listing every invalid field of every payload that does not match its
   * type's schema (`errors`, up to 100), the first as `field`. `where(i)` gives the field prefix of
   * task i, e.g. "tasks[3].".
   */
  async check(
    tasks: ReadonlyArray<{ type: string; payload?: Json }>,
    where: (i: number) => string,
  ): Promise<void> {
    const names = [...new Set(tasks.map((t) => t.type))];
    const configs = new Map<string, TaskTypeConfig | null>();
    await Promise.all(names.map(async (n) => configs.set(n, await this.config(n))));
    const errors: SchemaFieldError[] = [];
    const types = new Set<string>();
    for (const [i, t] of tasks.entries()) {
      const schema = configs.get(t.type)?.payloadSchema;
      if (schema === null || schema === undefined) continue;
      const validate = this.compile(schema);
      if (validate(t.payload ?? null)) continue;
      types.add(t.type);
      const base = `${where(i)}payload`;
      const found = (validate.errors ?? []).map((e) => describe(e, base));
      errors.push(...(found.length > 0 ? found : [{ field: base, message: 'does not match the schema' }]));
      if (errors.length >= MAX_ERRORS) break;
    }
    if (errors.length === 0) return;
    const unique = [...new Map(errors.map((e) => [`${e.field}\u0000${e.message}`, e])).values()].slice(
      0,
      MAX_ERRORS,
    );
    const typeList = [...types].join(', ');
    const parts = unique.map((e) => `${e.field} ${e.message}`);
    const detail =
      unique.length === 1
        ? `${parts[0]} (schema of task type ${typeList})`
        : `${unique.length} fields do not match the schema of task type ${typeList}: ${parts.join('; ')}`;
    throw new ValidationError(detail, { field: unique[0]?.field, errors: unique });
  }
}

function describe(e: ErrorObject, base: string): SchemaFieldError {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('');
  let field = `${base}${path}`;
  let message = `${e.message ?? 'is invalid'}`;
  if (e.keyword === 'required') {
    field = `${field}.${String(e.params.missingProperty)}`;
    message = 'is required';
  } else if (e.keyword === 'additionalProperties') {
    field = `${field}.${String(e.params.additionalProperty)}`;
    message = 'is not allowed';
  }
  return { field, message };
}

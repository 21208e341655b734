import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ValidationError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import type { Json, TaskTypeConfig } from '../store/types.js';

// ajv and ajv-formats are CommonJS with `exports.default`; createRequire keeps NodeNext typing simple.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default as typeof import('ajv/dist/2020.js').default;
const addFormats = require('ajv-formats').default as typeof import('ajv-formats').default;

/** How long a type's config is trusted before it is read again (a PUT on this node refreshes it at once). */
const TYPE_TTL_MS = 2000;

/**
 * Checks payloads against their type's JSON Schema (R1.2) at creation. Schemas
 * are compiled once and cached by their text; type configs are cached briefly
 * so a busy create path does not read task_types on every call.
 */
export class PayloadValidator {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly types = new Map<string, { config: TaskTypeConfig | null; until: number }>();

  constructor(private readonly store: Store) {
    addFormats(this.ajv);
  }

  /** Compiles a schema, refusing one that is not valid JSON Schema. */
  compile(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    const hit = this.compiled.get(key);
    if (hit) return hit;
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
    let fn: ValidateFunction;
    try {
      fn = this.ajv.compile(copy as object);
    } catch (err) {
      throw new ValidationError(`payloadSchema is not a valid JSON Schema: ${(err as Error).message}`, {
        field: 'payloadSchema',
      });
    }
    if (this.compiled.size > 1000) this.compiled.clear();
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
   * Throws a ValidationError naming the field of the first payload that does not
   * match its type's schema. `where(i)` gives the field prefix of task i, e.g. "tasks[3].".
   */
  async check(
    tasks: ReadonlyArray<{ type: string; payload?: Json }>,
    where: (i: number) => string,
  ): Promise<void> {
    const names = [...new Set(tasks.map((t) => t.type))];
    const configs = new Map<string, TaskTypeConfig | null>();
    await Promise.all(names.map(async (n) => configs.set(n, await this.config(n))));
    for (const [i, t] of tasks.entries()) {
      const schema = configs.get(t.type)?.payloadSchema;
      if (schema === null || schema === undefined) continue;
      const validate = this.compile(schema);
      if (!validate(t.payload ?? null)) {
        const field = `${where(i)}payload`;
        throw describe(validate.errors?.[0], field, t.type);
      }
    }
  }
}

function describe(e: ErrorObject | undefined, base: string, type: string): ValidationError {
  if (!e) return new ValidationError(`${base} does not match the schema of type ${type}`, { field: base });
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
  return new ValidationError(`${field} ${message} (schema of task type ${type})`, { field });
}

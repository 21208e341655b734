import {
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';

/**
 * OpenTelemetry, through @opentelemetry/api only: without an SDK registered by the application every
 * call here is the API's no-op (no span is recorded, nothing is exported). A task carries the W3C
 * traceparent of the span that enqueued it in `metadata.traceparent`, so the worker's spans continue
 * the caller's trace across processes (docs/OBSERVABILITY.md).
 */
export const TRACEPARENT = 'traceparent';

let tracer: Tracer | null = null;
function gafferTracer(): Tracer {
  tracer ??= trace.getTracer('@gafferhq/gaffer', '0.1.0');
  return tracer;
}

/**
 * True once the application registered a tracer provider (an OpenTelemetry SDK). Until then every span
 * would be the API's no-op, yet building them (attributes, contexts, a promise per span, three spans
 * per task) cost the worker ~5 µs per task in the drain bench; the hot paths skip them instead. Checked
 * on every call: an SDK may be registered after Gaffer is loaded.
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  return (
    !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('@gafferhq/gaffer') !== undefined
  );
}

/** What `fn` gets while tracing is off: records nothing, and has no traceparent to pass on. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

export interface TaskSpanFields {
  id?: string;
  type: string;
  queue?: string;
  sessionId?: string | null;
  sessionIndex?: number | null;
  attempt?: number;
}

export function taskAttributes(t: TaskSpanFields): Record<string, string | number> {
  const a: Record<string, string | number> = { 'gaffer.task.type': t.type };
  if (t.id) a['gaffer.task.id'] = t.id;
  if (t.queue) a['gaffer.task.queue'] = t.queue;
  if (t.sessionId) a['gaffer.session.id'] = t.sessionId;
  if (t.sessionIndex !== null && t.sessionIndex !== undefined) a['gaffer.session.index'] = t.sessionIndex;
  if (t.attempt !== undefined) a['gaffer.task.attempt'] = t.attempt;
  return a;
}

/** The W3C traceparent of a span, or undefined when it records nothing (no SDK: the no-op span). */
export function traceparentOf(span: Span): string | undefined {
  const c = span.spanContext();
  if (!trace.isSpanContextValid(c)) return undefined;
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & TraceFlags.SAMPLED ? 1 : 0).toString(16).padStart(2, '0')}`;
}

/** The context a traceparent names (a remote parent), or the active context when there is none. */
export function contextOf(traceparent: unknown): Context {
  const active = context.active();
  if (typeof traceparent !== 'string') return active;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent);
  if (!m) return active;
  return trace.setSpanContext(active, {
    traceId: m[1]!,
    spanId: m[2]!,
    traceFlags: Number.parseInt(m[3]!, 16),
    isRemote: true,
  });
}

/**
 * Runs `fn` in a span named `name`; ends it when `fn` settles (error status on a throw). `fn` gets the
 * span to add attributes or read its traceparent.
 */
export async function inSpan<R>(
  name: string,
  opts: { kind?: SpanKind; parent?: Context; attributes?: Record<string, string | number> },
  fn: (span: Span) => Promise<R>,
): Promise<R> {
  if (!tracingActive()) return fn(NO_SPAN);
  const parent = opts.parent ?? context.active();
  const span = gafferTracer().startSpan(name, { kind: opts.kind, attributes: opts.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
    throw err;
  } finally {
    span.end();
  }
}

export { type Span, SpanKind, SpanStatusCode };

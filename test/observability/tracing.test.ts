import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { silentLogger } from '../../src/engine/logger.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { SqlStore } from '../../src/store/sql-store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';

describe('OpenTelemetry: a task traced from enqueue through claim, handler and completion', () => {
  const exporter = new InMemorySpanExporter();
  const manager = new AsyncLocalStorageContextManager();
  let store: SqlStore;

  beforeAll(async () => {
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    store = await openPgliteStore();
  });
  afterAll(async () => {
    await store.close();
    trace.disable();
    context.disable();
  });

  it('continues the caller’s trace: caller → enqueue → process → handler / complete, with the task’s attributes', async () => {
    const client = new GafferClient(store);
    const worker = new Worker({
      transport: new DirectTransport(store),
      logger: silentLogger,
      claimWaitMs: 200,
    });
    let handlerSaw: string | undefined;
    worker.handle('otel.step', async (p: { n: number }) => {
      handlerSaw = trace.getActiveSpan()?.spanContext().spanId;
      return p.n + 1;
    });
    const caller = trace.getTracer('app').startSpan('http POST /signup');
    const task = await context.with(trace.setSpan(context.active(), caller), () =>
      client.enqueue('otel.step', { n: 1 }, { key: 'k1' }),
    );
    caller.end();
    await worker.start();
    await client.waitFor(task.id, { timeoutMs: 20_000 });
    await worker.stop();

    const spans = exporter.getFinishedSpans();
    const one = (name: string): ReadableSpan => {
      const found = spans.filter((s) => s.name === name);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    const enqueue = one('gaffer.enqueue');
    const process = one('gaffer.process otel.step');
    const handler = one('gaffer.handler');
    const complete = one('gaffer.complete');
    const traceId = caller.spanContext().traceId;
    for (const s of [enqueue, process, handler, complete]) expect(s.spanContext().traceId).toBe(traceId);
    expect(enqueue.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(process.parentSpanContext?.spanId).toBe(enqueue.spanContext().spanId);
    expect(handler.parentSpanContext?.spanId).toBe(process.spanContext().spanId);
    expect(complete.parentSpanContext?.spanId).toBe(process.spanContext().spanId);
    expect(handlerSaw).toBe(handler.spanContext().spanId);
    expect(task.metadata.traceparent).toBe(`00-${traceId}-${enqueue.spanContext().spanId}-01`);
    expect(process.attributes).toMatchObject({
      'gaffer.task.id': task.id,
      'gaffer.task.type': 'otel.step',
      'gaffer.task.attempt': 1,
      'gaffer.task.outcome': 'completed',
    });
    expect(process.events.map((e) => e.name)).toContain('gaffer.claimed');
    expect(enqueue.attributes).toMatchObject({ 'gaffer.task.id': task.id, 'gaffer.task.type': 'otel.step' });
  });

  it('a session’s tasks carry the session id; a failed attempt marks its spans as errors', async () => {
    exporter.reset();
    const client = new GafferClient(store);
    const worker = new Worker({
      transport: new DirectTransport(store),
      logger: silentLogger,
      claimWaitMs: 200,
    });
    worker.handle('otel.fail', () => {
      throw new Error('boom');
    });
    const { session, tasks } = await client.createSession({ tasks: [{ type: 'otel.fail', maxAttempts: 1 }] });
    await worker.start();
    await client.waitFor(tasks[0]!.id, { timeoutMs: 20_000 }).catch(() => {});
    await worker.stop();
    const process = exporter.getFinishedSpans().find((s) => s.name === 'gaffer.process otel.fail')!;
    expect(process.attributes).toMatchObject({
      'gaffer.session.id': session.id,
      'gaffer.session.index': 0,
      'gaffer.task.outcome': 'failed',
    });
    expect(process.status.code).toBe(2);
    const handler = exporter.getFinishedSpans().find((s) => s.name === 'gaffer.handler')!;
    expect(handler.events.map((e) => e.name)).toContain('exception');
  });
});

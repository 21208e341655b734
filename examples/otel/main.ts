// Traces of Gaffer tasks on the console: an OpenTelemetry SDK registered by the application, a caller's
// span, and the spans Gaffer adds from enqueue through claim, handler and completion (same trace id).
// Run: npx tsx examples/otel/main.ts (after npm run build; the package is imported by its name)

import { DirectTransport, GafferClient, openStore, Worker } from '@gafferhq/gaffer';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] }),
);

const store = await openStore({});
const client = new GafferClient(store);
const worker = new Worker({ transport: new DirectTransport(store), claimWaitMs: 500 });
worker.handle('thumbnail.make', async (p: { url: string }) => {
  // Spans of your own inside a handler are children of Gaffer's handler span.
  return trace.getTracer('example').startActiveSpan('resize', (span) => {
    span.end();
    return { thumb: `${p.url}?w=128` };
  });
});
await worker.start();

const request = trace.getTracer('example').startSpan('POST /photos');
const task = await context.with(trace.setSpan(context.active(), request), () =>
  client.enqueue('thumbnail.make', { url: 'https://img.example/cat.png' }),
);
request.end();
await client.waitFor(task.id);
await worker.stop();
await store.close();
console.log(`task ${task.id} done; its spans share trace ${request.spanContext().traceId}`);

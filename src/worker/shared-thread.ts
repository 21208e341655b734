import { existsSync } from 'node:fs';
import { Worker as Thread } from 'node:worker_threads';
import type { ThreadMessage, ThreadReply } from './heartbeat-thread-types.js';

/** A slot's view of the thread: its replies, or the thread died (every slot then beats on its own loop). */
export type SlotEvent = ThreadReply | { type: 'crashed'; message: string };

/** How long a detach waits for the thread to close the slot's connection. */
const DETACH_MS = 2000;

/**
 * The process's one heartbeat thread (heartbeat-thread.ts), shared by every Worker in it: started with
 * the first Worker that wants it and ended with the last, unref'd so it never keeps a process alive.
 */
class SharedHeartbeatThread {
  private thread: Thread | null = null;
  private readonly slots = new Map<number, (e: SlotEvent) => void>();
  private next = 1;

  /** The thread's id while it runs (one for every Worker of the process), else null. */
  get threadId(): number | null {
    return this.thread?.threadId ?? null;
  }

  /** How many Workers beat through it. */
  get attached(): number {
    return this.slots.size;
  }

  attach(listener: (e: SlotEvent) => void): number {
    const slot = this.next++;
    this.slots.set(slot, listener);
    if (!this.thread) this.thread = this.spawn();
    return slot;
  }

  post(m: ThreadMessage): void {
    this.thread?.postMessage(m);
  }

  /** Closes the slot (its connection too, once no other slot uses it); the last slot ends the thread. */
  async detach(slot: number): Promise<void> {
    const listener = this.slots.get(slot);
    if (!listener) return;
    const thread = this.thread;
    if (thread) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DETACH_MS);
        this.slots.set(slot, (e) => {
          if (e.type !== 'closed' && e.type !== 'crashed') return;
          clearTimeout(timer);
          resolve();
        });
        thread.postMessage({ type: 'detach', slot } satisfies ThreadMessage);
      });
    }
    this.slots.delete(slot);
    if (this.slots.size === 0 && this.thread === thread && thread) {
      this.thread = null;
      await thread.terminate();
    }
  }

  private spawn(): Thread {
    const thread = spawnHeartbeatThread();
    thread.unref();
    thread.on('message', (m: ThreadReply) => this.slots.get(m.slot)?.(m));
    const crashed = (message: string) => {
      if (this.thread !== thread) return;
      this.thread = null;
      const listeners = [...this.slots.values()];
      this.slots.clear();
      for (const l of listeners) l({ type: 'crashed', message });
    };
    thread.on('error', (err) => crashed(String(err)));
    thread.on('exit', (code) => crashed(`the heartbeat thread exited (code ${code})`));
    return thread;
  }
}

export const heartbeatThread = new SharedHeartbeatThread();

/**
 * Starts heartbeat-thread.js next to this file. Run from the TypeScript sources (tests, `tsx`), it takes
 * the compiled one in dist/ if present, else registers tsx in the thread first: a worker thread does not
 * inherit the main thread's loader hooks.
 */
function spawnHeartbeatThread(): Thread {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return new Thread(new URL('./heartbeat-thread.js', import.meta.url));
  // The compiled thread when there is one (the tests build dist/ from these sources): no compiler to load.
  const built = new URL('../../dist/worker/heartbeat-thread.js', import.meta.url);
  if (existsSync(built)) return new Thread(built);
  const entry = new URL('./heartbeat-thread.ts', import.meta.url);
  let tsx = 'tsx/esm/api';
  try {
    tsx = import.meta.resolve(tsx);
  } catch {
    // resolved from the working directory instead
  }
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Thread(boot, { eval: true });
}

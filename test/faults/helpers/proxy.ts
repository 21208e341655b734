import net from 'node:net';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** The answer to the request just sent on this connection is to be dropped. */
  dropNext: boolean;
}

/**
 * A TCP proxy in front of a server, for network faults between a worker (or
 * client) and Gaffer:
 * - blackhole(): traffic stops both ways (sockets paused, data waits in kernel
 *   buffers, as in a partition TCP rides out); heal() lets it flow again.
 * - dropNextResponse(): the next bytes the server sends back are swallowed and
 *   the client's connection is reset: the request was processed, its answer lost.
 * - dropResponsesTo(re, n): the same for the answers to the next n requests whose
 *   request line matches `re` (one request at a time per connection, as Node's agent sends).
 */
export class FaultProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private holding = false;
  private dropArmed = false;
  private dropPattern: RegExp | null = null;
  private dropBudget = 0;
  /** Responses dropped so far. */
  dropped = 0;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(targetUrl: string): Promise<FaultProxy> {
    const u = new URL(targetUrl);
    const p = new FaultProxy(u.hostname, Number(u.port));
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair: Pair = { client, upstream, dropNext: false };
    this.pairs.add(pair);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.on('data', (chunk) => {
      if (this.dropPattern && this.dropBudget > 0) {
        const line = chunk.subarray(0, chunk.indexOf(13) < 0 ? 200 : chunk.indexOf(13)).toString('latin1');
        if (this.dropPattern.test(line)) {
          this.dropBudget--;
          pair.dropNext = true;
        }
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => this.holding || client.resume());
    upstream.on('data', (chunk) => {
      if (this.dropArmed || pair.dropNext) {
        this.dropArmed = false;
        pair.dropNext = false;
        this.dropped++;
        client.resetAndDestroy();
        return;
      }
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => this.holding || upstream.resume());
    if (this.holding) {
      client.pause();
      upstream.pause();
    }
  }

  blackhole(): void {
    this.holding = true;
    for (const p of this.pairs) {
      p.client.pause();
      p.upstream.pause();
    }
  }

  heal(): void {
    this.holding = false;
    for (const p of this.pairs) {
      p.client.resume();
      p.upstream.resume();
    }
  }

  dropNextResponse(): void {
    this.dropArmed = true;
  }

  dropResponsesTo(pattern: RegExp, count = 1): void {
    this.dropPattern = pattern;
    this.dropBudget = count;
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

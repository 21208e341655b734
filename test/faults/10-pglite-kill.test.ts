import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPgliteStore } from '../../src/store/index.js';
import { report, secs } from './helpers/figures.js';
import { Fixture } from './helpers/procs.js';
import { sleep } from './helpers/wait.js';

const KILLS = 20;

describe('10. PGlite: kill -9 the embedded store during writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gaffer-f10-'));
  const dataDir = join(dir, 'data');
  const expectFile = join(dir, 'acked.txt');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`opens after each of ${KILLS} kills with every acknowledged write in place`, async () => {
    const acked: string[] = [];
    const missing: string[] = [];
    const openMs: number[] = [];
    let openFailures = 0;
    for (let run = 0; run <= KILLS; run++) {
      writeFileSync(expectFile, acked.join('\n'));
      const f = new Fixture('pglite-writer', { dataDir, expectFile: run > 0 ? expectFile : undefined, run });
      try {
        const opened = await f.waitFor((e) => e.ev === 'opened' || e.ev === 'open_failed', 60_000);
        if (opened.ev === 'open_failed') {
          openFailures++;
          continue;
        }
        if (run > 0) openMs.push(opened.ms as number);
        if (run > 0) missing.push(...((await f.waitFor((e) => e.ev === 'checked')).missing as string[]));
        if (run === KILLS) break; // the last run only checks
        await f.waitFor((e) => e.ev === 'writing');
        await sleep(200 + Math.random() * 600);
        f.kill('SIGKILL');
        await f.exited;
        for (const e of f.events) if (e.ev === 'ack') acked.push(...(e.ids as string[]));
      } finally {
        await f.stop();
      }
    }
    // And once more in this process, through the ordinary API.
    const store = await openPgliteStore({ dataDir });
    const found = await store.db.query<{ id: string }>('select id from tasks where id = any($1::text[])', [
      acked,
    ]);
    await store.close();
    const lostAtEnd = acked.length - found.rows.length;

    const pass = openFailures === 0 && missing.length === 0 && lostAtEnd === 0;
    report({
      id: '10',
      title: `kill -9 of the embedded store during writes, ${KILLS} times (same data directory)`,
      store: 'pglite',
      figures: {
        kills: KILLS,
        'failed opens': openFailures,
        'acknowledged writes': acked.length,
        'lost acknowledged': missing.length + lostAtEnd,
        'open after crash s (median/max)': `${secs(openMs.sort((a, b) => a - b)[openMs.length >> 1]!)}/${secs(Math.max(...openMs))}`,
      },
      bound:
        'the data directory opens every time; every acknowledged write persists (process crash; not power loss)',
      pass,
    });
    expect(openFailures).toBe(0);
    expect(missing).toEqual([]);
    expect(lostAtEnd).toBe(0);
    expect(acked.length).toBeGreaterThan(KILLS * 10);
  });
});

import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectGafferError, fixture, uid } from './helpers.js';

/** R9.1 and issue 17 (items 8–10): token scopes, the last admin token, and who may replace a worker. */
export function tokenTests(ctx: ConformanceContext): void {
  describe('tokens', () => {
    it('refuses to revoke the last active admin token unless forced, and says so', async () => {
      const store = ctx.store();
      // Tokens are global to a store: start from no active admin (only these tests make tokens).
      for (const t of await store.listTokens())
        if (t.role === 'admin' && !t.revokedAt) await store.revokeToken(t.id, { force: true });
      const a = await store.createToken({ name: uid('admin'), role: 'admin' });
      const b = await store.createToken({ name: uid('admin'), role: 'admin' });
      const producer = await store.createToken({ name: uid('producer'), role: 'producer' });
      await store.revokeToken(a.id);
      const err = await expectGafferError(store.revokeToken(b.id), 'conflict');
      expect(err.message).toMatch(/last active admin token.*force/);
      expect((await store.listTokens()).find((t) => t.id === b.id)?.revokedAt).toBeNull();
      // Other roles, and tokens already revoked, are not held back by it.
      await store.revokeToken(producer.id);
      await store.revokeToken(a.id);
      await store.revokeToken(b.id, { force: true });
      expect((await store.listTokens()).find((t) => t.id === b.id)?.revokedAt).toBeInstanceOf(Date);
      expect(await store.verifyToken(b.token)).toBeNull();
      await expectGafferError(store.revokeToken('tok_nope'), 'not_found');
    });

    it('two revokes of the two last admin tokens at once leave one standing', async () => {
      const store = ctx.store();
      for (const t of await store.listTokens())
        if (t.role === 'admin' && !t.revokedAt) await store.revokeToken(t.id, { force: true });
      const a = await store.createToken({ name: uid('admin'), role: 'admin' });
      const b = await store.createToken({ name: uid('admin'), role: 'admin' });
      const results = await Promise.allSettled([store.revokeToken(a.id), store.revokeToken(b.id)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const active = (await store.listTokens()).filter((t) => t.role === 'admin' && !t.revokedAt);
      expect(active).toHaveLength(1);
    });

    it('scopes worker tokens to queues and types, and refuses scopes on other roles', async () => {
      const store = ctx.store();
      const t = await store.createToken({
        name: uid('w'),
        role: 'worker',
        queues: ['q-a', 'q-b'],
        types: ['x'],
      });
      expect(t).toMatchObject({ queues: ['q-a', 'q-b'], types: ['x'] });
      expect(await store.verifyToken(t.token)).toMatchObject({
        id: t.id,
        queues: ['q-a', 'q-b'],
        types: ['x'],
      });
      const open = await store.createToken({ name: uid('w'), role: 'worker' });
      expect(open).toMatchObject({ queues: null, types: null });
      const err = await expectGafferError(
        store.createToken({ name: uid('p'), role: 'producer', queues: ['q-a'] }),
        'validation',
      );
      expect(err.details?.field).toBe('queues');
      expect(
        (
          await expectGafferError(
            store.createToken({ name: uid('w'), role: 'worker', types: ['bad name'] }),
            'validation',
          )
        ).details?.field,
      ).toBe('types[0]');
    });

    it('records the registering token on a worker; only that token or an admin replaces it', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const machineId = uid('m');
      const mine = await store.createToken({ name: uid('w'), role: 'worker' });
      const theirs = await store.createToken({ name: uid('w'), role: 'worker' });
      const admin = await store.createToken({ name: uid('a'), role: 'admin' });
      const first = await fx.worker({ machineId, name: 'slot', owner: { tokenId: mine.id, admin: false } });
      expect(await store.getWorkerTokenId(first.id)).toBe(mine.id);
      await fx.create();
      const held = await fx.claimOne(first.id, { leaseMs: 600_000 });

      const err = await expectGafferError(
        fx.worker({ machineId, name: 'slot', owner: { tokenId: theirs.id, admin: false } }),
        'forbidden',
      );
      expect(err.message).toMatch(/registered with another token/);
      // Nothing happened to the first worker or its task.
      expect((await store.getWorker(first.id)).stale).toBe(false);
      expect(await store.getTask(held.id)).toMatchObject({
        status: 'running',
        attempt: 1,
        workerId: first.id,
      });

      // The same token replaces its own worker (a restart); an admin may replace anyone's.
      const again = await fx.worker({ machineId, name: 'slot', owner: { tokenId: mine.id, admin: false } });
      expect((await store.getWorker(first.id)).stale).toBe(true);
      const byAdmin = await fx.worker({ machineId, name: 'slot', owner: { tokenId: admin.id, admin: true } });
      expect((await store.getWorker(again.id)).stale).toBe(true);
      expect(await store.getWorkerTokenId(byAdmin.id)).toBe(admin.id);
    });
  });
}

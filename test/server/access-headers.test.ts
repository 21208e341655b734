import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgliteStore, type SqlStore } from '../../src/store/index.js';
import { expectProblem, testServer } from './helpers.js';

/**
 * Issue 17, items 11–13: what a web page can do to a server with auth off, the security headers,
 * and the API docs with auth on. Requests are built by hand (no helper adds headers), as a browser
 * or a page would send them.
 */
let store: SqlStore;
beforeAll(async () => {
  store = await openPgliteStore();
});
afterAll(async () => {
  await store?.close();
});

type Inject = {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  payload?: string;
};

async function answer(app: Awaited<ReturnType<typeof testServer>>['app'], r: Inject) {
  const res = await app.inject({
    method: r.method ?? 'GET',
    url: r.url,
    headers: r.headers,
    payload: r.payload,
  });
  const type = String(res.headers['content-type'] ?? '');
  return {
    status: res.statusCode,
    headers: res.headers,
    text: res.body,
    body: type.includes('json') && res.body ? JSON.parse(res.body) : res.body,
  };
}

describe('with auth off (item 11)', () => {
  let server: Awaited<ReturnType<typeof testServer>>;
  beforeAll(async () => {
    server = await testServer(store, { allowedHosts: ['gaffer.internal'] });
  });
  afterAll(async () => {
    await server?.close();
  });
  const ask = (r: Inject) => answer(server.app, r);

  it('answers only to its own host names (DNS rebinding)', async () => {
    const rebinding = await ask({ url: '/api/v1/tasks', headers: { host: 'attacker.example:7700' } });
    expect(expectProblem(rebinding, 403, 'forbidden').detail).toMatch(
      /Host "attacker.example:7700" is not this server's.*--allowed-hosts/,
    );
    expect(expectProblem(rebinding, 403, 'forbidden').field).toBe('host');
    expect((await ask({ url: '/', headers: { host: 'attacker.example' } })).status).toBe(403);
    for (const host of [
      'localhost:7700',
      '127.0.0.1:7700',
      '[::1]:7700',
      'gaffer.internal:7700',
      'app.localhost',
    ])
      expect((await ask({ url: '/api/v1/tasks', headers: { host } })).status).toBe(200);
    // Health stays reachable whatever the Host (probes).
    expect((await ask({ url: '/healthz', headers: { host: 'pod-10-1-2-3' } })).status).toBe(200);
  });

  it('refuses body-less and form writes that carry neither a JSON type nor X-Gaffer-Request', async () => {
    await store.createTasks({ tasks: [{ type: 'csrf', id: 'csrf-1' }] });
    // What <form method=post> or fetch(..., {mode: 'no-cors', method: 'POST'}) sends from any page.
    const bare = await ask({
      method: 'POST',
      url: '/api/v1/tasks/csrf-1/cancel',
      headers: { host: 'localhost' },
    });
    const p = expectProblem(bare, 400, 'validation');
    expect(p.detail).toMatch(/Content-Type: application\/json or the header "X-Gaffer-Request: 1"/);
    expect(p.field).toBe('x-gaffer-request');
    const form = await ask({
      method: 'POST',
      url: '/api/v1/tasks/csrf-1/cancel',
      headers: { host: 'localhost', 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=1',
    });
    expect(form.status).toBe(415);
    const empty = await ask({
      method: 'POST',
      url: '/api/v1/tasks/csrf-1/cancel',
      headers: { host: 'localhost', 'content-type': 'text/plain' },
      payload: '',
    });
    expect(empty.status).toBe(415);
    expect((await store.getTask('csrf-1')).status).toBe('queued');
    // The SDK's and dashboard's way: the header (body-less), or a JSON body.
    const ok = await ask({
      method: 'POST',
      url: '/api/v1/tasks/csrf-1/cancel',
      headers: { host: 'localhost', 'x-gaffer-request': '1' },
    });
    expect(ok.status).toBe(200);
    expect((await store.getTask('csrf-1')).status).toBe('cancelled');
    const json = await ask({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { host: 'localhost', 'content-type': 'application/json' },
      payload: '{"type":"csrf","id":"csrf-2"}',
    });
    expect(json.status).toBe(201);
  });

  it('refuses API calls from another site, by Sec-Fetch-Site or Origin; pages still open from links', async () => {
    const crossSite = await ask({
      method: 'POST',
      url: '/api/v1/tasks/csrf-2/cancel',
      headers: { host: 'localhost', 'x-gaffer-request': '1', 'sec-fetch-site': 'cross-site' },
    });
    expect(expectProblem(crossSite, 403, 'forbidden').detail).toMatch(/another site/);
    const foreign = await ask({
      method: 'POST',
      url: '/api/v1/tasks/csrf-2/cancel',
      headers: { host: 'localhost', 'content-type': 'application/json', origin: 'http://evil.example' },
      payload: '{}',
    });
    expect(expectProblem(foreign, 403, 'forbidden').field).toBe('origin');
    expect(
      (
        await ask({
          url: '/api/v1/tasks/csrf-2',
          headers: { host: 'localhost', 'sec-fetch-site': 'cross-site' },
        })
      ).status,
    ).toBe(403);
    expect((await store.getTask('csrf-2')).status).toBe('queued');
    // The dashboard's own calls: same origin.
    const own = await ask({
      method: 'POST',
      url: '/api/v1/tasks/csrf-2/cancel',
      headers: {
        host: '127.0.0.1:7700',
        origin: 'http://127.0.0.1:7700',
        'sec-fetch-site': 'same-origin',
        'x-gaffer-request': '1',
      },
    });
    expect(own.status).toBe(200);
    // Following a link to the dashboard from elsewhere is a cross-site navigation: the page opens.
    expect(
      (await ask({ url: '/tasks', headers: { host: 'localhost', 'sec-fetch-site': 'cross-site' } })).status,
    ).toBe(200);
  });

  it('sends the security headers on pages, API answers and problems (item 12)', async () => {
    for (const url of ['/', '/api/v1/tasks', '/api/v1/tasks/nope', '/api/docs/static/swagger-ui.css']) {
      const a = await ask({ url, headers: { host: 'localhost' } });
      const csp = String(a.headers['content-security-policy']);
      expect(csp, url).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp.match(/script-src [^;]*/)?.[0]).not.toContain('unsafe-inline');
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(a.headers['x-content-type-options']).toBe('nosniff');
      expect(a.headers['referrer-policy']).toBe('no-referrer');
      expect(a.headers['x-frame-options']).toBe('DENY');
    }
  });
});

describe('the API docs with auth on (item 13)', () => {
  let server: Awaited<ReturnType<typeof testServer>>;
  let token: string;
  beforeAll(async () => {
    token = (await store.createToken({ name: 'docs', role: 'producer' })).token;
    server = await testServer(store);
  });
  afterAll(async () => {
    await server?.close();
    for (const t of await store.listTokens())
      if (!t.revokedAt) await store.revokeToken(t.id, { force: true });
  });
  const ask = (r: Inject) => answer(server.app, r);

  it('answers a program without a token with a 401 problem document, not a 500', async () => {
    for (const url of ['/api/docs', '/api/docs/', '/api/docs/json', '/api/docs/yaml', '/api/openapi.json']) {
      const a = await ask({ url, headers: { accept: 'application/json' } });
      expect(expectProblem(a, 401, 'unauthorized').detail, url).toMatch(/Authorization: Bearer/);
    }
    const spec = await ask({ url: '/api/docs/json', headers: { authorization: `Bearer ${token}` } });
    expect(spec.status).toBe(200);
    expect(spec.body.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
  });

  it('serves the page and its assets to a browser without a token; the page asks for one', async () => {
    const page = await ask({ url: '/api/docs', headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('gaffer-docs-auth.js');
    expect(page.text).not.toMatch(/<script>(?!\s*<\/script>)/);
    for (const asset of [
      '/api/docs/static/swagger-ui-bundle.js',
      '/api/docs/static/swagger-initializer.js',
      '/api/docs/static/theme/gaffer-docs-auth.js',
    ])
      expect((await ask({ url: asset })).status, asset).toBe(200);
    const init = await ask({ url: '/api/docs/static/swagger-initializer.js' });
    expect(init.text).toContain('gaffer.docsToken');
  });
});

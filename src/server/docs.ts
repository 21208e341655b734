import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/** Where the docs page keeps a token the user gave it (this tab only). */
const TOKEN_KEY = 'gaffer.docsToken';

/**
 * The docs page's own script (no inline script: the CSP allows only scripts from this server).
 * When the API description answers 401 it shows a token field; the token is kept in this tab's
 * sessionStorage and sent by the request interceptor with every call the page makes.
 */
const DOCS_AUTH_JS = `(function () {
  var KEY = ${JSON.stringify(TOKEN_KEY)};
  function specUrl() {
    var h = location.href.split('#')[0].split('?')[0];
    return (h.endsWith('/') ? h : h + '/') + 'json';
  }
  function bar(message, withInput) {
    var form = document.createElement('form');
    form.id = 'gaffer-docs-token';
    form.style.cssText = 'font-family:sans-serif;padding:12px 20px;background:#fff7e6;border-bottom:1px solid #e0c080;display:flex;gap:8px;align-items:center;flex-wrap:wrap';
    var text = document.createElement('span');
    text.textContent = message;
    form.appendChild(text);
    if (withInput) {
      var input = document.createElement('input');
      input.type = 'password';
      input.name = 'token';
      input.setAttribute('aria-label', 'API token');
      input.placeholder = 'gaffer_...';
      input.style.cssText = 'flex:1;min-width:16em;padding:4px';
      form.appendChild(input);
    }
    var button = document.createElement('button');
    button.type = 'submit';
    button.textContent = withInput ? 'Use token' : 'Forget token';
    form.appendChild(button);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (withInput) sessionStorage.setItem(KEY, form.elements.token.value.trim());
      else sessionStorage.removeItem(KEY);
      location.reload();
    });
    document.body.insertBefore(form, document.body.firstChild);
  }
  document.addEventListener('DOMContentLoaded', function () {
    var token = sessionStorage.getItem(KEY);
    var headers = { 'x-gaffer-request': '1' };
    if (token) headers.authorization = 'Bearer ' + token;
    fetch(specUrl(), { headers: headers }).then(function (res) {
      if (res.status === 401)
        bar(token ? 'That token was refused (unknown or revoked). API token:' : 'This server requires an API token to show its API. Token:', true);
      else if (token) bar('Using the API token you gave (kept in this tab only).', false);
    });
  });
})();
`;

/**
 * swagger-ui's request interceptor (serialized into its initializer by @fastify/swagger-ui): sends the
 * page's token, and the header the server wants on writes while auth is off, with every call.
 */
function requestInterceptor(req: { headers: Record<string, string> }) {
  try {
    // Runs in the browser (serialized into the page's initializer): no closure, no imports.
    const storage = (globalThis as { sessionStorage?: { getItem(k: string): string | null } }).sessionStorage;
    const t = storage?.getItem('gaffer.docsToken');
    if (t && !req.headers.Authorization) req.headers.Authorization = `Bearer ${t}`;
  } catch {
    // No sessionStorage: calls go without a token.
  }
  req.headers['X-Gaffer-Request'] = '1';
  return req;
}

/** The OpenAPI document (/api/openapi.json, /api/docs/json) and the docs page at /api/docs. */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gaffer',
        version: '0.1.0',
        description:
          'Durable task orchestration: tasks, sessions, dead letters, the worker fleet and the HTTP worker protocol. ' +
          'Errors are RFC 9457 problem documents with a stable `code`. With auth on, send `Authorization: Bearer <token>` ' +
          '(the Authorize button); with auth off, writes need `Content-Type: application/json` or `X-Gaffer-Request: 1`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    uiConfig: { persistAuthorization: false, requestInterceptor } as Record<string, unknown>,
    validatorUrl: false,
    theme: { title: 'Gaffer API', js: [{ filename: 'gaffer-docs-auth.js', content: DOCS_AUTH_JS }] },
  });
}

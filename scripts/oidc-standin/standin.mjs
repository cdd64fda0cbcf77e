// A local OpenID Connect provider for mana-core-auth's social-login tests and for trying social
// login on a laptop: panva's oidc-provider (OpenID Certified), unchanged, with its development
// sign-in pages, plus a few control routes under /_standin/ that a test uses to register the
// client (its redirect URI is known only once the service has started) and seed accounts.
//
//   node scripts/oidc-standin/standin.mjs [--port N]
//   POST /_standin/clients   {client_id, client_secret, redirect_uris: [...]}
//   POST /_standin/accounts  {sub, email, email_verified, name}
//
// It prints "listening on http://127.0.0.1:PORT" (the issuer) once it answers. Sign in on its
// page by typing an account's `sub` as the login (any password).

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: options } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const accounts = new Map();
const stores = new Map();

// oidc-provider keeps clients, codes, sessions and grants through an adapter; this one keeps
// them in memory, which is also where the control route puts registered clients.
class MemoryAdapter {
  constructor(model) {
    if (!stores.has(model)) stores.set(model, new Map());
    this.items = stores.get(model);
  }
  async upsert(id, payload) { this.items.set(id, { ...payload }); }
  async find(id) { return this.items.get(id); }
  async findByUid(uid) { return [...this.items.values()].find((item) => item.uid === uid); }
  async findByUserCode(code) { return [...this.items.values()].find((item) => item.userCode === code); }
  async consume(id) { const item = this.items.get(id); if (item) item.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { this.items.delete(id); }
  async revokeByGrantId(grantId) {
    for (const [id, item] of this.items) if (item.grantId === grantId) this.items.delete(id);
  }
}

const server = createServer();
await new Promise((resolve) => server.listen(Number(options.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { ...account, sub } } };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Like Google: the ID token itself carries the email and whether it is verified.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60 },
});

function readJson(request) {
  return new Promise((resolve, reject) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => { try { resolve(JSON.parse(body || '{}')); } catch (error) { reject(error); } });
  });
}

async function control(request, response) {
  const body = await readJson(request);
  if (request.url === '/_standin/clients') {
    await new MemoryAdapter('Client').upsert(body.client_id, {
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...body,
    });
  } else if (request.url === '/_standin/accounts') {
    const { sub, ...claims } = body;
    accounts.set(sub, claims);
  } else {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(204).end();
}

const providerCallback = provider.callback();
server.on('request', (request, response) => {
  if (request.method === 'POST' && request.url.startsWith('/_standin/')) {
    control(request, response).catch((error) => response.writeHead(400).end(String(error)));
  } else {
    providerCallback(request, response);
  }
});
console.log(`listening on ${issuer}`);

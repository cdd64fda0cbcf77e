// A local stand-in for GitHub's OAuth apps and for Sign in with Apple, speaking their dialects
// as their documentation describes them, for mana-core-auth's social-login tests and for trying
// those providers on a laptop. Node.js only, no packages.
//
//   node scripts/provider-standin/standin.mjs [--port N]
//
// GitHub (OAUTH_GITHUB_AUTHORIZE_URL=<base>/login/oauth/authorize,
//         OAUTH_GITHUB_TOKEN_URL=<base>/login/oauth/access_token, OAUTH_GITHUB_API_URL=<base>/api):
//   the code flow (PKCE checked when a challenge was sent), the token endpoint answering errors
//   with status 200 as GitHub does, GET /api/user and GET /api/user/emails.
// Apple (OAUTH_APPLE_ISSUER=<base>/apple): discovery, response_mode=form_post (the sign-in page
//   posts code, state and, on the first authorization only, `user` to the redirect URI), the
//   token endpoint checking the client secret (an ES256 JWT signed with the client's .p8 key,
//   iss = team id, sub = client id, aud = issuer, at most six months), RS256 ID tokens with
//   Apple's string booleans (`email_verified`, `is_private_email`), and the key set.
//
// Control routes for tests:
//   POST /_standin/clients  {client_id, client_secret?, redirect_uris, team_id?, key_id?, public_key_pem?}
//   POST /_standin/accounts {login, id?, name?, emails?: [{email, primary, verified}],
//                            email?, email_verified?, is_private_email?, first_name?, last_name?}
//   GET  /_standin/requests  what the token endpoints were sent (without secrets), and key fetches
//   POST /_standin/apple/rotate  Apple signs with a new key from now on
//
// Sign in on its page by typing an account's login. It prints "listening on http://127.0.0.1:PORT".

import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const clients = new Map();
const accounts = new Map();
const codes = new Map();
const tokens = new Map();
const appleAuthorized = new Set(); // (client, account) pairs that already got the `user` JSON
const requests = [];

// Apple's signing key; POST /_standin/apple/rotate replaces it (the old one is no longer published).
let appleKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
let appleKid = `standin-${randomBytes(4).toString('hex')}`;

const b64url = (buffer) => Buffer.from(buffer).toString('base64url');
const random = () => randomBytes(24).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function html(response, status, body) {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html><body>${body}</body></html>`);
}
function json(response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readBody(request) {
  let body = '';
  for await (const chunk of request) body += chunk;
  return body;
}
async function readForm(request) {
  return Object.fromEntries(new URLSearchParams(await readBody(request)));
}

/// The sign-in page: a login form posting back to the same address with the query kept.
function signInPage(response, url) {
  html(response, 200, `<form method="post" action="${escape(url.pathname + url.search)}">
    <input type="hidden" name="prompt" value="login"/>
    <input name="login" placeholder="login"/><button type="submit">Sign in</button></form>`);
}

function pkceHolds(challenge, verifier) {
  if (!challenge) return true;
  if (!verifier) return false;
  return b64url(createHash('sha256').update(verifier).digest()) === challenge;
}

function redirectAllowed(client, redirectUri) {
  return client && client.redirect_uris.includes(redirectUri);
}

// ---- GitHub ----------------------------------------------------------------------------

async function githubAuthorize(request, response, url) {
  const q = Object.fromEntries(url.searchParams);
  const client = clients.get(q.client_id);
  if (!redirectAllowed(client, q.redirect_uri)) return html(response, 400, 'The redirect_uri MUST match the registered callback URL for this application.');
  if (request.method === 'GET') return signInPage(response, url);
  const form = await readForm(request);
  const account = accounts.get(form.login);
  if (!account) return html(response, 400, 'no such account');
  const code = random();
  codes.set(code, { kind: 'github', client: q.client_id, account: form.login, redirect_uri: q.redirect_uri,
    challenge: q.code_challenge, expires: now() + 600 });
  const back = new URL(q.redirect_uri);
  back.searchParams.set('code', code);
  if (q.state) back.searchParams.set('state', q.state);
  response.writeHead(302, { location: back.toString() }).end();
}

async function githubToken(request, response) {
  const form = await readForm(request);
  requests.push({ endpoint: 'github_token', client_id: form.client_id, has_secret: !!form.client_secret,
    has_verifier: !!form.code_verifier });
  const client = clients.get(form.client_id);
  // GitHub answers these errors with status 200.
  if (!client || client.client_secret !== form.client_secret) {
    return json(response, 200, { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' });
  }
  const grant = codes.get(form.code);
  codes.delete(form.code);
  if (!grant || grant.kind !== 'github' || grant.client !== form.client_id || grant.expires < now()
      || (form.redirect_uri && form.redirect_uri !== grant.redirect_uri) || !pkceHolds(grant.challenge, form.code_verifier)) {
    return json(response, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
  }
  const token = `gho_${random()}`;
  tokens.set(token, grant.account);
  json(response, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
}

function githubApi(request, response, path) {
  const header = request.headers.authorization || '';
  const login = tokens.get(header.replace(/^(Bearer|token) /, ''));
  if (!login) return json(response, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
  const account = accounts.get(login);
  if (path === '/api/user') {
    const publicEmail = (account.emails || []).find((e) => e.primary)?.email ?? null;
    return json(response, 200, { login, id: account.id, name: account.name ?? null, email: publicEmail, type: 'User' });
  }
  if (path === '/api/user/emails') {
    return json(response, 200, (account.emails || []).map((e) => ({ visibility: e.primary ? 'public' : null, ...e })));
  }
  json(response, 404, { message: 'Not Found' });
}

// ---- Apple -------------------------------------------------------------------------------

function appleDiscovery(response, issuer) {
  json(response, 200, {
    issuer,
    authorization_endpoint: `${issuer}/auth/authorize`,
    token_endpoint: `${issuer}/auth/token`,
    jwks_uri: `${issuer}/auth/keys`,
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email', 'name'],
    token_endpoint_auth_methods_supported: ['client_secret_post'],
  });
}

async function appleAuthorize(request, response, url) {
  const q = Object.fromEntries(url.searchParams);
  const client = clients.get(q.client_id);
  if (!redirectAllowed(client, q.redirect_uri)) return html(response, 400, 'invalid_request: Invalid web redirect url.');
  const wantsNameOrEmail = (q.scope || '').split(' ').some((s) => s === 'name' || s === 'email');
  if (wantsNameOrEmail && q.response_mode !== 'form_post') return html(response, 400, 'invalid_request: response_mode must be form_post when name or email scope is requested.');
  if (request.method === 'GET') return signInPage(response, url);
  const form = await readForm(request);
  const account = accounts.get(form.login);
  if (!account) return html(response, 400, 'no such account');
  const code = random();
  codes.set(code, { kind: 'apple', client: q.client_id, account: form.login, redirect_uri: q.redirect_uri,
    challenge: q.code_challenge, nonce: q.nonce, expires: now() + 300 });
  const fields = { code, state: q.state };
  const pair = `${q.client_id}\u0000${form.login}`;
  if (!appleAuthorized.has(pair)) {
    appleAuthorized.add(pair);
    fields.user = JSON.stringify({ name: { firstName: account.first_name, lastName: account.last_name }, email: account.email });
  }
  // What Apple's page does: post the answer to the redirect URI (a cross-site POST).
  const inputs = Object.entries(fields).filter(([, v]) => v !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escape(value)}"/>`).join('');
  html(response, 200, `<form method="post" action="${escape(q.redirect_uri)}">${inputs}</form>
    <script>document.forms[0].submit()</script>`);
}

function jwtParts(token) {
  const [header, payload, signature] = String(token).split('.');
  return { header: JSON.parse(Buffer.from(header, 'base64url')), payload: JSON.parse(Buffer.from(payload, 'base64url')),
    signed: `${header}.${payload}`, signature: Buffer.from(signature || '', 'base64url') };
}

/// Why a client secret is refused, or null when it holds.
function clientSecretProblem(client, secret, issuer) {
  let jwt;
  try { jwt = jwtParts(secret); } catch { return 'not a JWT'; }
  if (jwt.header.alg !== 'ES256' || jwt.header.kid !== client.key_id) return 'wrong alg or kid';
  const key = createPublicKey(client.public_key_pem);
  if (!verify('sha256', Buffer.from(jwt.signed), { key, dsaEncoding: 'ieee-p1363' }, jwt.signature)) return 'bad signature';
  const c = jwt.payload;
  if (c.iss !== client.team_id || c.sub !== client.client_id || c.aud !== issuer) return 'wrong iss, sub or aud';
  if (!(c.iat <= now() + 60 && c.exp > now() && c.exp - c.iat <= 15777000)) return 'bad iat or exp';
  return null;
}

function appleIdToken(issuer, grant) {
  const account = accounts.get(grant.account);
  const header = { alg: 'RS256', kid: appleKid };
  const payload = { iss: issuer, aud: grant.client, exp: now() + 600, iat: now(), sub: account.id,
    c_hash: random().slice(0, 22), email: account.email, email_verified: String(account.email_verified ?? true),
    is_private_email: String(account.is_private_email ?? false), auth_time: now(), nonce_supported: true };
  if (grant.nonce) payload.nonce = grant.nonce;
  const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${signed}.${b64url(sign('sha256', Buffer.from(signed), appleKey.privateKey))}`;
}

async function appleToken(request, response, issuer) {
  const form = await readForm(request);
  const client = clients.get(form.client_id);
  const problem = client ? clientSecretProblem(client, form.client_secret, issuer) : 'unknown client';
  requests.push({ endpoint: 'apple_token', client_id: form.client_id, client_secret_problem: problem,
    has_verifier: !!form.code_verifier });
  if (problem) return json(response, 400, { error: 'invalid_client' });
  const grant = codes.get(form.code);
  codes.delete(form.code);
  if (form.grant_type !== 'authorization_code' || !grant || grant.kind !== 'apple' || grant.client !== form.client_id
      || grant.expires < now() || form.redirect_uri !== grant.redirect_uri || !pkceHolds(grant.challenge, form.code_verifier)) {
    return json(response, 400, { error: 'invalid_grant' });
  }
  json(response, 200, { access_token: random(), token_type: 'Bearer', expires_in: 3600, refresh_token: random(),
    id_token: appleIdToken(issuer, grant) });
}

function appleKeys(response) {
  requests.push({ endpoint: 'apple_keys', kid: appleKid });
  const jwk = appleKey.publicKey.export({ format: 'jwk' });
  json(response, 200, { keys: [{ kty: 'RSA', kid: appleKid, use: 'sig', alg: 'RS256', n: jwk.n, e: jwk.e }] });
}

// ---- routing -----------------------------------------------------------------------------

const server = createServer();
await new Promise((resolve) => server.listen(Number(options.port), '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const appleIssuer = `${base}/apple`;

async function route(request, response) {
  const url = new URL(request.url, base);
  const path = url.pathname;
  if (path === '/_standin/clients' && request.method === 'POST') {
    const client = JSON.parse(await readBody(request));
    clients.set(client.client_id, client);
    return response.writeHead(204).end();
  }
  if (path === '/_standin/accounts' && request.method === 'POST') {
    const account = JSON.parse(await readBody(request));
    accounts.set(account.login, { id: account.id ?? String(Math.floor(Math.random() * 1e8)), ...account });
    return response.writeHead(204).end();
  }
  if (path === '/_standin/requests') return json(response, 200, requests);
  if (path === '/_standin/apple/rotate' && request.method === 'POST') {
    appleKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    appleKid = `standin-${randomBytes(4).toString('hex')}`;
    return response.writeHead(204).end();
  }
  if (path === '/login/oauth/authorize') return githubAuthorize(request, response, url);
  if (path === '/login/oauth/access_token' && request.method === 'POST') return githubToken(request, response);
  if (path.startsWith('/api/') && request.method === 'GET') return githubApi(request, response, path);
  if (path === '/apple/.well-known/openid-configuration') return appleDiscovery(response, appleIssuer);
  if (path === '/apple/auth/authorize') return appleAuthorize(request, response, url);
  if (path === '/apple/auth/token' && request.method === 'POST') return appleToken(request, response, appleIssuer);
  if (path === '/apple/auth/keys') return appleKeys(response);
  json(response, 404, { message: 'Not Found' });
}

server.on('request', (request, response) => {
  route(request, response).catch((error) => json(response, 500, { error: String(error) }));
});
console.log(`listening on ${base}`);

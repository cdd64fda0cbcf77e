// verifyAccessToken for Node backends: the server's tokens verify; other audiences, changed
// tokens and revoked sessions (when asked) are refused; a key rotation is picked up.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AuthClient } from "../src/index.js";
import { TokenVerificationError, verifyAccessToken } from "../src/server.js";
import { email, PASSWORD, TestServer } from "./support.js";

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(() => server.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.catch((e: unknown) => e);
  assert.ok(error instanceof TokenVerificationError, `expected a refusal, got ${String(error)}`);
  return error.code;
}

test("tokens of the server verify, and changed ones are refused for their reason", async () => {
  const client = new AuthClient({ baseUrl: server.base, crossTab: false });
  const address = email("ada");
  await client.signUp({ email: address, password: PASSWORD });
  const token = await client.getAccessToken();
  const options = { issuer: server.base, audience: "mana" };
  const claims = await verifyAccessToken(token, options);
  assert.equal(claims.email, address);
  assert.equal(claims.aud, "mana");

  assert.equal(await refusal(verifyAccessToken(token, { ...options, audience: "billing" })), "invalid_audience");
  assert.equal(await refusal(verifyAccessToken(token, { ...options, issuer: "https://elsewhere.example", jwksUrl: `${server.base}/.well-known/jwks.json` })), "invalid_issuer");
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const claimsJson = JSON.parse(Buffer.from(payload, "base64url").toString());
  const raised = Buffer.from(JSON.stringify({ ...claimsJson, role: "admin" })).toString("base64url");
  assert.equal(await refusal(verifyAccessToken(`${header}.${raised}.${signature}`, options)), "invalid_signature");
  const headerJson = JSON.parse(Buffer.from(header, "base64url").toString());
  const untyped = Buffer.from(JSON.stringify({ ...headerJson, typ: "JWT" })).toString("base64url");
  assert.equal(await refusal(verifyAccessToken(`${untyped}.${payload}.${signature}`, options)), "invalid_signature");
  // A token the server signed for another purpose (the device token of a login) is no access token.
  const deviceToken = (await client.getSession())?.deviceToken ?? "";
  assert.equal(await refusal(verifyAccessToken(deviceToken, options)), "wrong_token_type");
  const critical = Buffer.from(JSON.stringify({ ...headerJson, crit: ["exp"] })).toString("base64url");
  assert.equal(await refusal(verifyAccessToken(`${critical}.${payload}.${signature}`, options)), "unsupported_critical_header");
  const hmac = Buffer.from(JSON.stringify({ ...headerJson, alg: "HS256" })).toString("base64url");
  assert.equal(await refusal(verifyAccessToken(`${hmac}.${payload}.${signature}`, options)), "wrong_algorithm");
});

test("a rotated key is picked up while tokens of the old one still verify", async () => {
  const client = new AuthClient({ baseUrl: server.base, crossTab: false });
  const address = email("rotate");
  await client.signUp({ email: address, password: PASSWORD });
  const options = { issuer: server.base, audience: "mana" };
  const old = await client.getAccessToken();
  await verifyAccessToken(old, options);
  server.rotateKeys();
  const kid = (token: string) => JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()).kid;
  let fresh = old;
  for (let attempt = 0; attempt < 100 && kid(fresh) === kid(old); attempt++) {
    await sleep(50);
    await client.signOut();
    await client.signIn({ email: address, password: PASSWORD });
    fresh = await client.getAccessToken();
  }
  assert.notEqual(kid(fresh), kid(old));
  // jose fetches the keys again for an unknown kid, after a 5 s cooldown from the last fetch.
  await sleep(5100);
  assert.equal((await verifyAccessToken(fresh, options)).email, address);
  assert.equal((await verifyAccessToken(old, options)).email, address);
});

test("with the revocation check, a signed-out session is refused", async () => {
  const client = new AuthClient({ baseUrl: server.base, crossTab: false });
  await client.signUp({ email: email("out"), password: PASSWORD });
  const token = await client.getAccessToken();
  const options = { issuer: server.base, audience: "mana", checkRevocation: { baseUrl: server.base, cacheSeconds: 0 } };
  await verifyAccessToken(token, options);
  await client.signOut();
  assert.equal(await refusal(verifyAccessToken(token, options)), "session_revoked");
  assert.ok(await verifyAccessToken(token, { issuer: server.base, audience: "mana" }), "a signature alone cannot show it");
});

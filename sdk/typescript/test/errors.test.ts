// Every error class, each from a real answer of the server (or of no server at all).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  AuthApiError,
  AuthClient,
  ConflictError,
  ForbiddenError,
  InsufficientCreditsError,
  InvalidCredentialsError,
  NetworkError,
  NoSessionError,
  NotFoundError,
  RateLimitedError,
  TwoFactorError,
  UnauthenticatedError,
  ValidationError,
  memoryStorage,
} from "../src/index.js";
import { email, PASSWORD, TestServer } from "./support.js";

let server: TestServer;
before(async () => {
  server = await TestServer.start({ RATE_LIMIT_LOGIN_PER_MINUTE: "20" });
});
after(() => server.stop());

function client(storage = memoryStorage()): AuthClient {
  return new AuthClient({ baseUrl: server.base, storage, crossTab: false });
}

test("each refusal of the server arrives as its class, with the server's code", async () => {
  const ada = client();
  const address = email("ada");
  await ada.signUp({ email: address, password: PASSWORD });

  const invalid = await ada.signIn({ email: address, password: "not the password at all" }).catch((e: unknown) => e);
  assert.ok(invalid instanceof InvalidCredentialsError && invalid.code === "invalid_credentials" && invalid.status === 401);

  const weak = await client().signUp({ email: email("weak"), password: "short" }).catch((e: unknown) => e);
  assert.ok(weak instanceof ValidationError);
  assert.deepEqual(weak.fieldErrors.map((f) => f.field), ["password"]);

  const taken = await client().signUp({ email: address, password: PASSWORD }).catch((e: unknown) => e);
  assert.ok(taken instanceof ConflictError && taken.code === "email_taken");

  const poor = await ada.credits.use({ amount: 1_000_000, appId: "chat", description: "too much" }).catch((e: unknown) => e);
  assert.ok(poor instanceof InsufficientCreditsError && poor.status === 402);

  const missing = await ada.credits.purchase("00000000-0000-7000-8000-000000000000").catch((e: unknown) => e);
  assert.ok(missing instanceof NotFoundError);

  const notAdmin = await ada.admin.searchUsers().catch((e: unknown) => e);
  assert.ok(notAdmin instanceof ForbiddenError && notAdmin.code === "forbidden");

  const challenge = await ada.verifySecondFactor({ mfaToken: "made-up", code: "123456" }).catch((e: unknown) => e);
  assert.ok(challenge instanceof TwoFactorError && challenge.code === "invalid_mfa_token");

  // A session whose access token was changed in storage: the server refuses it as invalid.
  const storage = memoryStorage();
  const forged = client(storage);
  await forged.signIn({ email: address, password: PASSWORD });
  const kept = JSON.parse(String(await storage.getItem("mana-auth")));
  await storage.setItem("mana-auth", JSON.stringify({ ...kept, accessToken: `${kept.accessToken.slice(0, -4)}AAAA` }));
  const refused = await forged.account.me().catch((e: unknown) => e);
  assert.ok(refused instanceof UnauthenticatedError && refused.code === "invalid_token");

  await ada.signOut();
  await assert.rejects(ada.getAccessToken(), NoSessionError);
  await assert.rejects(new AuthClient({ baseUrl: "http://127.0.0.1:9", crossTab: false }).credits.packages(), NetworkError);
});

test("too many sign-ins are refused with the time to wait", async () => {
  const address = email("many");
  await client().signUp({ email: address, password: PASSWORD });
  let limited: unknown;
  for (let attempt = 0; attempt < 40 && !limited; attempt++) {
    await client()
      .signIn({ email: address, password: PASSWORD })
      .catch((e: unknown) => {
        if (e instanceof RateLimitedError) limited = e;
        else throw e;
      });
  }
  assert.ok(limited instanceof RateLimitedError && limited instanceof AuthApiError);
  assert.ok((limited.retryAfter ?? 0) > 0, "Retry-After is carried");
});

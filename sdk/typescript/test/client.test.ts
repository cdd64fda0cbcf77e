// From sign-up to spending, against the real server: sessions, events, credits with their
// idempotency keys, sign-out, and the account, 2FA and admin endpoints through the client.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AuthClient, type AuthEvent, memoryStorage, NetworkError } from "../src/index.js";
import { countingFetch, email, PASSWORD, TestServer } from "./support.js";

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(() => server.stop());

test("sign-up to spend: a session is kept, events are told, and a spend retried is charged once", async () => {
  const client = new AuthClient({ baseUrl: server.base, crossTab: false });
  const events: AuthEvent[] = [];
  client.onAuthStateChange((event) => events.push(event));
  const address = email("ada");
  const signedUp = await client.signUp({ email: address, password: PASSWORD, name: "Ada" });
  assert.equal(signedUp.user.email, address);
  assert.ok(signedUp.session, "signed in after signing up");
  assert.deepEqual(events, ["SIGNED_IN"]);
  assert.equal((await client.getSession())?.user.email, address);
  assert.equal((await client.account.me()).name, "Ada");

  const before = await client.credits.balance();
  const spent = await client.credits.use({ amount: 3, appId: "chat", description: "an answer", idempotencyKey: "answer-1" });
  const again = await client.credits.use({ amount: 3, appId: "chat", description: "an answer", idempotencyKey: "answer-1" });
  assert.deepEqual(again, spent, "the same key answers the first spend again");
  const after = await client.credits.balance();
  assert.equal(after.totalSpent - before.totalSpent, 3);

  await client.signOut();
  assert.deepEqual(events, ["SIGNED_IN", "SIGNED_OUT"]);
  assert.equal(await client.getSession(), null);
});

test("a spend whose answer is lost is retried with its key and charged once", async () => {
  const counting = countingFetch();
  let dropped = 0;
  const losing: typeof fetch = async (input, init) => {
    const answer = await counting.fetch(input, init);
    if (new URL(String(input)).pathname === "/api/v1/credits/use" && dropped === 0) {
      dropped += 1;
      throw new TypeError("connection reset after the request was sent");
    }
    return answer;
  };
  const client = new AuthClient({ baseUrl: server.base, fetch: losing, crossTab: false });
  await client.signUp({ email: email("retry"), password: PASSWORD });
  const before = await client.credits.balance();
  const receipt = await client.credits.use({ amount: 2, appId: "chat", description: "once" }, { backoffMs: 10 });
  assert.equal(counting.count("/api/v1/credits/use"), 2, "sent twice");
  const after = await client.credits.balance();
  assert.equal(after.totalSpent - before.totalSpent, 2, "charged once");
  assert.ok(receipt.transaction);

  const unreachable = new AuthClient({ baseUrl: "http://127.0.0.1:9", crossTab: false });
  await assert.rejects(unreachable.signIn({ email: "x@example.com", password: PASSWORD }), NetworkError);
});

test("the account, sessions and administration endpoints answer through the client", async () => {
  const adminAddress = email("root");
  const admin = new AuthClient({ baseUrl: server.base, crossTab: false });
  await admin.signUp({ email: adminAddress, password: PASSWORD });
  server.promote(adminAddress);
  await admin.signOut();
  await admin.signIn({ email: adminAddress, password: PASSWORD });

  const storage = memoryStorage();
  const user = new AuthClient({ baseUrl: server.base, storage, crossTab: false });
  const address = email("grace");
  const { user: created } = await user.signUp({ email: address, password: PASSWORD });
  const other = new AuthClient({ baseUrl: server.base, crossTab: false });
  await other.signIn({ email: address, password: PASSWORD });
  assert.equal((await user.account.sessions()).length, 2);
  assert.equal((await user.account.revokeOtherSessions()).revoked, 1);
  assert.ok((await user.account.securityEvents({ limit: 10 })).length > 0);
  assert.equal((await user.account.updateProfile({ name: "Grace" })).name, "Grace");
  assert.equal((await user.account.export()).profile.email, address);
  assert.equal((await user.account.validate(await user.getAccessToken())).valid, true);
  assert.ok((await user.twoFactor.setUpTotp()).secret);
  assert.ok(Array.isArray(await user.credits.packages()));
  assert.deepEqual(await user.credits.purchases(), []);

  const found = await admin.admin.searchUsers({ q: address });
  assert.deepEqual(found.users.map((u) => u.id), [created.id]);
  const adjusted = await admin.admin.adjustCredits(created.id, { amount: 40, reason: "support gesture" });
  assert.equal(adjusted.transaction.amount, 40);
  assert.equal((await admin.admin.user(created.id)).balance.totalEarned >= 40, true);
  assert.equal((await admin.admin.verifyLedger()).ok, true);
  await admin.admin.lockUser(created.id);
  await assert.rejects(user.account.me(), (error: Error & { code?: string }) => ["invalid_token", "account_locked"].includes(error.code ?? ""));
});

// Refreshing: ahead of expiry, once for many callers, once for clients sharing a storage, and on
// a 401 `token_expired` from the server (a real expiry: this test waits about a minute).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AuthClient, memoryStorage, SessionExpiredError } from "../src/index.js";
import { countingFetch, email, PASSWORD, TestServer } from "./support.js";

let server: TestServer;
before(async () => {
  // The shortest lifetime the server allows, no leeway: tokens really expire within the test.
  server = await TestServer.start({ ACCESS_TOKEN_TTL_SECONDS: "60", JWT_LEEWAY_SECONDS: "0" });
});
after(() => server.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("ten calls with a token that is due make one refresh, and all get its token", async () => {
  const counting = countingFetch();
  // Due one second after each refresh: 60 s lifetime, 59 s margin.
  const client = new AuthClient({ baseUrl: server.base, fetch: counting.fetch, refreshMarginSeconds: 59, crossTab: false });
  await client.signUp({ email: email("ten"), password: PASSWORD });
  const first = await client.getAccessToken();
  assert.equal(counting.count("/api/v1/auth/refresh"), 0, "fresh for a second");
  await sleep(1100);
  const tokens = await Promise.all(Array.from({ length: 10 }, () => client.getAccessToken()));
  assert.equal(counting.count("/api/v1/auth/refresh"), 1);
  assert.equal(new Set(tokens).size, 1);
  assert.notEqual(tokens[0], first);
  const balances = await Promise.all(Array.from({ length: 10 }, () => client.credits.balance()));
  assert.equal(balances.length, 10);
});

test("two clients sharing a storage never both rotate the same refresh token", async () => {
  const storage = memoryStorage();
  const counts = countingFetch();
  const one = new AuthClient({ baseUrl: server.base, storage, fetch: counts.fetch, refreshMarginSeconds: 59, crossTab: false });
  const two = new AuthClient({ baseUrl: server.base, storage, fetch: counts.fetch, refreshMarginSeconds: 59, crossTab: false });
  await one.signUp({ email: email("tabs"), password: PASSWORD });
  await sleep(1100);
  const [a, b] = await Promise.all([one.getAccessToken(), two.getAccessToken()]);
  assert.equal(a, b);
  assert.equal(counts.count("/api/v1/auth/refresh"), 1, "the second found the token rotated and took it");
  // Had both rotated the same token, the server would have ended the session as stolen.
  assert.ok(await two.credits.balance());
});

test("a token the server finds expired is refreshed and the call made again", async () => {
  const counting = countingFetch();
  // No margin: the client keeps using the token until the server refuses it.
  const client = new AuthClient({ baseUrl: server.base, fetch: counting.fetch, refreshMarginSeconds: -3600, crossTab: false });
  await client.signUp({ email: email("expired"), password: PASSWORD });
  const old = await client.getAccessToken();
  await sleep(61_500);
  const balance = await client.credits.balance();
  assert.ok(balance);
  assert.equal(counting.count("/api/v1/auth/refresh"), 1);
  assert.notEqual(await client.getAccessToken(), old);
});

test("a refresh token ended elsewhere signs the client out", async () => {
  const storage = memoryStorage();
  const client = new AuthClient({ baseUrl: server.base, storage, refreshMarginSeconds: 59, crossTab: false });
  const address = email("ended");
  await client.signUp({ email: address, password: PASSWORD });
  const elsewhere = new AuthClient({ baseUrl: server.base, crossTab: false });
  await elsewhere.signIn({ email: address, password: PASSWORD });
  await elsewhere.account.revokeOtherSessions();
  const events: string[] = [];
  client.onAuthStateChange((event) => events.push(event));
  await sleep(1100);
  await assert.rejects(client.getAccessToken(), SessionExpiredError);
  assert.deepEqual(events, ["SIGNED_OUT"]);
  assert.equal(await client.getSession(), null);
});

test("another tab's sign-in, refresh and sign-out reach this tab's listeners", async () => {
  const storage = memoryStorage();
  const key = `tabs-${process.pid}`;
  const here = new AuthClient({ baseUrl: server.base, storage, storageKey: key, refreshMarginSeconds: 59 });
  const there = new AuthClient({ baseUrl: server.base, storage, storageKey: key, refreshMarginSeconds: 59 });
  const heard: Array<[string, string | undefined]> = [];
  const told = new Promise<void>((resolve) =>
    there.onAuthStateChange((event, session) => {
      heard.push([event, session?.user.email]);
      if (event === "SIGNED_OUT") resolve();
    }),
  );
  const address = email("broadcast");
  await here.signUp({ email: address, password: PASSWORD });
  await sleep(1100);
  await here.getAccessToken();
  await here.signOut();
  await told;
  assert.deepEqual(heard, [
    ["SIGNED_IN", address],
    ["TOKEN_REFRESHED", address],
    ["SIGNED_OUT", undefined],
  ]);
  here.close();
  there.close();
});

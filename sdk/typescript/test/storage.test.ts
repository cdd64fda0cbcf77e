// The storage adapters keep and forget a session through their platform's interface.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asyncStorage, cookieStorage, localStorageAdapter, memoryStorage, type SessionStorage } from "../src/index.js";

async function roundTrip(storage: SessionStorage): Promise<void> {
  assert.equal(await storage.getItem("mana-auth"), null);
  await storage.setItem("mana-auth", '{"a":"b; c=d"}');
  assert.equal(await storage.getItem("mana-auth"), '{"a":"b; c=d"}');
  await storage.removeItem("mana-auth");
  assert.equal(await storage.getItem("mana-auth"), null);
}

test("memory, localStorage, cookies and an Expo SecureStore-like store keep and forget a value", async () => {
  await roundTrip(memoryStorage());

  const items = new Map<string, string>();
  const local = {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  } as unknown as Storage;
  await roundTrip(localStorageAdapter(local));

  // document.cookie as a browser implements it: setting one cookie, reading all.
  const jar = new Map<string, string>();
  const written: string[] = [];
  const doc = {
    get cookie() {
      return [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    },
    set cookie(text: string) {
      written.push(text);
      const [pair = "", ...attributes] = text.split("; ");
      const [name = "", value = ""] = pair.split(/=(.*)/s);
      if (attributes.includes("Max-Age=0")) jar.delete(name);
      else jar.set(name, value);
    },
  } as unknown as Document;
  await roundTrip(cookieStorage({ secure: true }, doc));
  assert.match(written[0] ?? "", /; Path=\/; Max-Age=604800; SameSite=Strict; Secure$/);

  const secure = new Map<string, string>();
  await roundTrip(
    asyncStorage({
      getItemAsync: async (key) => secure.get(key) ?? null,
      setItemAsync: async (key, value) => void secure.set(key, value),
      deleteItemAsync: async (key) => void secure.delete(key),
    }),
  );
});

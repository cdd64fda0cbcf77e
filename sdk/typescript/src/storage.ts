// Where a session is kept between page loads and app starts. Every adapter has the same async
// shape, which Expo's SecureStore, React Native's AsyncStorage and browser storage all fit.

/** An async key-value store of strings. */
export interface SessionStorage {
  getItem(key: string): Promise<string | null> | string | null;
  setItem(key: string, value: string): Promise<void> | void;
  removeItem(key: string): Promise<void> | void;
}

/** Kept in memory only: gone when the process ends. Shareable between clients. */
export function memoryStorage(): SessionStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** The browser's `localStorage` (shared by the tabs of one origin). */
export function localStorageAdapter(storage: Storage = globalThis.localStorage): SessionStorage {
  return {
    getItem: (key) => storage.getItem(key),
    setItem: (key, value) => storage.setItem(key, value),
    removeItem: (key) => storage.removeItem(key),
  };
}

/** Options of the cookie adapter. */
export interface CookieOptions {
  /** Where the cookie is sent; default `/`. */
  path?: string;
  /** Lifetime in seconds; default 7 days, the refresh token's. */
  maxAge?: number;
  /** Default `Strict`. */
  sameSite?: "Strict" | "Lax";
  /** Default: when the page is served over https. */
  secure?: boolean;
}

/**
 * Browser cookies readable by script (`document.cookie`), for apps that want the session in a
 * cookie their own server can read too. Cookies hold at most about 4 KiB.
 */
export function cookieStorage(options: CookieOptions = {}, doc: Document = globalThis.document): SessionStorage {
  const path = options.path ?? "/";
  const sameSite = options.sameSite ?? "Strict";
  const secure = options.secure ?? globalThis.location?.protocol === "https:";
  const attributes = (maxAge: number) =>
    `; Path=${path}; Max-Age=${maxAge}; SameSite=${sameSite}${secure ? "; Secure" : ""}`;
  return {
    getItem(key) {
      const prefix = `${encodeURIComponent(key)}=`;
      const found = doc.cookie.split("; ").find((pair) => pair.startsWith(prefix));
      return found === undefined ? null : decodeURIComponent(found.slice(prefix.length));
    },
    setItem(key, value) {
      doc.cookie = `${encodeURIComponent(key)}=${encodeURIComponent(value)}${attributes(options.maxAge ?? 604800)}`;
    },
    removeItem(key) {
      doc.cookie = `${encodeURIComponent(key)}=${attributes(0)}`;
    },
  };
}

/** The shape of `expo-secure-store` (`getItemAsync`, …), or anything alike. */
export interface AsyncKeyValue {
  getItemAsync(key: string): Promise<string | null>;
  setItemAsync(key: string, value: string): Promise<void>;
  deleteItemAsync(key: string): Promise<void>;
}

/** An async key-value store such as Expo SecureStore: `asyncStorage(SecureStore)`. */
export function asyncStorage(store: AsyncKeyValue): SessionStorage {
  return {
    getItem: (key) => store.getItemAsync(key),
    setItem: (key, value) => store.setItemAsync(key, value),
    removeItem: (key) => store.deleteItemAsync(key),
  };
}

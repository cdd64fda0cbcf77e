// Exclusive sections across every client that shares a storage key: the Web Locks API where
// there is one (browser tabs of one origin), else a queue per key in this process. A refresh
// runs inside one, so two clients sharing storage never both rotate the same refresh token.

const queues = new Map<string, Promise<unknown>>();

interface LockManager {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

function webLocks(): LockManager | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  return typeof locks?.request === "function" ? locks : undefined;
}

/** Runs `section` when no other section of `name` runs, here or (with Web Locks) in other tabs. */
export async function exclusive<T>(name: string, section: () => Promise<T>): Promise<T> {
  const locks = webLocks();
  if (locks) return locks.request(`mana-auth:${name}`, section);
  const before = queues.get(name) ?? Promise.resolve();
  const run = before.then(section, section);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(name, settled);
  try {
    return await run;
  } finally {
    if (queues.get(name) === settled) queues.delete(name);
  }
}

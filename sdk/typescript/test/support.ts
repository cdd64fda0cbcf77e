// The real mana-core-auth binary (target/debug, or MANA_SERVER_BINARY), started per test file on
// a fresh SQLite database, and a fetch that counts the calls it makes.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const binary = process.env.MANA_SERVER_BINARY ?? join(here, "../../../../target/debug/mana-core-auth");
export const PASSWORD = "a passphrase for the sdk tests";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export class TestServer {
  private constructor(
    readonly base: string,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<TestServer> {
    const dir = mkdtempSync(join(tmpdir(), "mana-sdk-"));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const child = spawn(binary, ["serve"], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        DATABASE_URL: `sqlite://${dir}/auth.db`,
        LISTEN_ADDR: `127.0.0.1:${port}`,
        PUBLIC_URL: base,
        KEYS_DIR: join(dir, "keys"),
        BCRYPT_COST: "4",
        LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    for (let attempt = 0; attempt < 600; attempt++) {
      try {
        if ((await fetch(`${base}/ready`)).ok) return new TestServer(base, dir, child);
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill();
    throw new Error("the server did not become ready");
  }

  /** Adds a signing key with the server's own CLI and makes it read its key directory now. */
  rotateKeys(): void {
    const done = spawnSync(binary, ["keys", "rotate", "--dir", join(this.dir, "keys")], { cwd: this.dir, env: { PATH: process.env.PATH ?? "" } });
    if (done.status !== 0) throw new Error(`keys rotate failed: ${done.stderr}`);
    this.child.kill("SIGHUP");
  }

  /** Makes `email` an administrator with the server's own CLI. */
  promote(email: string): void {
    const done = spawnSync(binary, ["users", "promote", "--email", email], {
      cwd: this.dir,
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: `sqlite://${this.dir}/auth.db` },
    });
    if (done.status !== 0) throw new Error(`users promote failed: ${done.stderr}`);
  }

  stop(): void {
    this.child.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `fetch`, counting the calls per path (`/api/v1/auth/refresh` …). */
export function countingFetch(): { fetch: typeof fetch; count: (path: string) => number } {
  const counts = new Map<string, number>();
  return {
    fetch: (input, init) => {
      const path = new URL(String(input)).pathname;
      counts.set(path, (counts.get(path) ?? 0) + 1);
      return fetch(input, init);
    },
    count: (path) => counts.get(path) ?? 0,
  };
}

let unique = 0;
export function email(name: string): string {
  unique += 1;
  return `${name}-${process.pid}-${unique}@example.com`;
}

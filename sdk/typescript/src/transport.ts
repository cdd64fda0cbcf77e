// One HTTP call to the server: JSON in and out, errors turned into their classes.
import { errorFor, NetworkError } from "./errors.js";
import type { components } from "./generated/openapi.js";

export type Fetch = typeof globalThis.fetch;

export interface Call {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Under `/api/v1`, e.g. `/auth/login`; or from the root when it starts with `/.well-known`. */
  path: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  token?: string;
  headers?: Record<string, string>;
}

export class Transport {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: Fetch,
  ) {}

  url(path: string, query?: Call["query"]): string {
    const root = path.startsWith("/.well-known") ? "" : "/api/v1";
    const url = new URL(`${this.baseUrl}${root}${path}`);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  async send<T>(call: Call): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...call.headers };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    if (call.token) headers.authorization = `Bearer ${call.token}`;
    let response: Response;
    try {
      response = await this.fetchImpl(this.url(call.path, call.query), {
        method: call.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        redirect: "manual",
      });
    } catch (cause) {
      throw new NetworkError(`mana-core-auth could not be reached: ${String(cause)}`, { cause });
    }
    const text = await response.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch (cause) {
        throw new NetworkError(`mana-core-auth answered ${response.status} with a body that is not JSON`, { cause });
      }
    }
    if (!response.ok) {
      const body = json as components["schemas"]["ErrorBody"] | undefined;
      if (!body || typeof body.code !== "string") {
        throw new NetworkError(`mana-core-auth answered ${response.status} without an error body`);
      }
      const retryAfter = Number(response.headers.get("retry-after") ?? "") || undefined;
      throw errorFor(response.status, body, retryAfter);
    }
    return json as T;
  }
}

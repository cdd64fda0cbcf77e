// Retrying one logical operation: only what may not have reached the server, or what it asked
// to be retried, and always with the same idempotency key, so a retry never counts twice.
import { NetworkError, RateLimitedError, ServerError } from "./errors.js";

export interface RetryOptions {
  /** Attempts in all, the first included; default 3. */
  attempts?: number;
  /** Wait before the second attempt, doubled each time, in ms; default 200. */
  backoffMs?: number;
}

function retryable(error: unknown): boolean {
  return error instanceof NetworkError || error instanceof ServerError || error instanceof RateLimitedError;
}

export async function withRetries<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 3);
  let wait = options.backoffMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !retryable(error)) throw error;
      const asked = error instanceof RateLimitedError || error instanceof ServerError ? error.retryAfter : undefined;
      await new Promise((resolve) => setTimeout(resolve, asked !== undefined ? asked * 1000 : wait));
      wait *= 2;
    }
  }
}

/** A fresh idempotency key (a random UUID). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

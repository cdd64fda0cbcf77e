// Credits: the balance, spending and buying, each spend or purchase sent with one idempotency
// key that its retries reuse, so a spend retried after a lost answer is charged once.
import type { Body, Ok, Query } from "./api-types.js";
import type { AuthClient } from "./client.js";
import { newIdempotencyKey, type RetryOptions, withRetries } from "./retry.js";

export type UseCredits = Omit<Body<"/api/v1/credits/use", "post">, "idempotencyKey"> & { idempotencyKey?: string };
export type BuyCredits = Omit<Body<"/api/v1/credits/purchases", "post">, "idempotencyKey"> & { idempotencyKey?: string };

export class Credits {
  constructor(private readonly client: AuthClient) {}

  balance(): Promise<Ok<"/api/v1/credits/balance", "get">> {
    return this.client.authed({ method: "GET", path: "/credits/balance" });
  }

  /** Spends credits once: a key is made for this call (or given) and reused by its retries. */
  use(spend: UseCredits, retry?: RetryOptions): Promise<Ok<"/api/v1/credits/use", "post">> {
    const body = { ...spend, idempotencyKey: spend.idempotencyKey ?? newIdempotencyKey() };
    return withRetries(() => this.client.authed({ method: "POST", path: "/credits/use", body }), retry);
  }

  transactions(query: Query<"/api/v1/credits/transactions", "get"> = {}): Promise<Ok<"/api/v1/credits/transactions", "get">> {
    return this.client.authed({ method: "GET", path: "/credits/transactions", query });
  }

  /** The packages on sale (no session needed). */
  packages(): Promise<Ok<"/api/v1/credits/packages", "get">> {
    return this.client.transport.send({ method: "GET", path: "/credits/packages" });
  }

  /** Starts a purchase once, whatever the retries: `checkoutUrl` or `clientSecret` to pay with. */
  buy(purchase: BuyCredits, retry?: RetryOptions): Promise<Ok<"/api/v1/credits/purchases", "post">> {
    const body = { ...purchase, idempotencyKey: purchase.idempotencyKey ?? newIdempotencyKey() };
    return withRetries(() => this.client.authed({ method: "POST", path: "/credits/purchases", body }), retry);
  }

  purchases(): Promise<Ok<"/api/v1/credits/purchases", "get">> {
    return this.client.authed({ method: "GET", path: "/credits/purchases" });
  }

  purchase(id: string): Promise<Ok<"/api/v1/credits/purchases/{id}", "get">> {
    return this.client.authed({ method: "GET", path: `/credits/purchases/${encodeURIComponent(id)}` });
  }
}

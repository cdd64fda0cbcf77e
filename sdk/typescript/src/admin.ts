// Administration (SPEC §9), for a signed-in account with the `admin` role.
import type { Body, Ok, Query } from "./api-types.js";
import type { AuthClient } from "./client.js";
import { newIdempotencyKey, type RetryOptions, withRetries } from "./retry.js";

const user = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

export type AdjustCredits = Omit<Body<"/api/v1/admin/users/{id}/credits", "post">, "idempotencyKey"> & { idempotencyKey?: string };

export class Admin {
  constructor(private readonly client: AuthClient) {}

  searchUsers(query: Query<"/api/v1/admin/users", "get"> = {}): Promise<Ok<"/api/v1/admin/users", "get">> {
    return this.client.authed({ method: "GET", path: "/admin/users", query });
  }

  user(id: string): Promise<Ok<"/api/v1/admin/users/{id}", "get">> {
    return this.client.authed({ method: "GET", path: user(id) });
  }

  deleteUser(id: string): Promise<Ok<"/api/v1/admin/users/{id}", "delete">> {
    return this.client.authed({ method: "DELETE", path: user(id) });
  }

  restoreUser(id: string): Promise<Ok<"/api/v1/admin/users/{id}/restore", "post">> {
    return this.client.authed({ method: "POST", path: `${user(id)}/restore` });
  }

  lockUser(id: string): Promise<Ok<"/api/v1/admin/users/{id}/lock", "post">> {
    return this.client.authed({ method: "POST", path: `${user(id)}/lock` });
  }

  unlockUser(id: string): Promise<Ok<"/api/v1/admin/users/{id}/unlock", "post">> {
    return this.client.authed({ method: "POST", path: `${user(id)}/unlock` });
  }

  revokeSessions(id: string): Promise<Ok<"/api/v1/admin/users/{id}/sessions/revoke", "post">> {
    return this.client.authed({ method: "POST", path: `${user(id)}/sessions/revoke` });
  }

  revokeSession(id: string, sessionId: string): Promise<Ok<"/api/v1/admin/users/{id}/sessions/{session_id}", "delete">> {
    return this.client.authed({ method: "DELETE", path: `${user(id)}/sessions/${encodeURIComponent(sessionId)}` });
  }

  /** Adjusts a user's credits once, whatever the retries (one idempotency key per call). */
  adjustCredits(id: string, adjustment: AdjustCredits, retry?: RetryOptions): Promise<Ok<"/api/v1/admin/users/{id}/credits", "post">> {
    const body = { ...adjustment, idempotencyKey: adjustment.idempotencyKey ?? newIdempotencyKey() };
    return withRetries(() => this.client.authed({ method: "POST", path: `${user(id)}/credits`, body }), retry);
  }

  packages(): Promise<Ok<"/api/v1/admin/packages", "get">> {
    return this.client.authed({ method: "GET", path: "/admin/packages" });
  }

  savePackage(id: string, body: Body<"/api/v1/admin/packages/{id}", "put">): Promise<Ok<"/api/v1/admin/packages/{id}", "put">> {
    return this.client.authed({ method: "PUT", path: `/admin/packages/${encodeURIComponent(id)}`, body });
  }

  withdrawPackage(id: string): Promise<Ok<"/api/v1/admin/packages/{id}", "delete">> {
    return this.client.authed({ method: "DELETE", path: `/admin/packages/${encodeURIComponent(id)}` });
  }

  usage(query: Query<"/api/v1/admin/usage", "get"> = {}): Promise<Ok<"/api/v1/admin/usage", "get">> {
    return this.client.authed({ method: "GET", path: "/admin/usage", query });
  }

  verifyLedger(): Promise<Ok<"/api/v1/admin/ledger/verify", "get">> {
    return this.client.authed({ method: "GET", path: "/admin/ledger/verify" });
  }
}

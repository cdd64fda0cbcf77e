// The signed-in user's account (SPEC §4): profile, email and password, sessions, security
// events, export and deletion; and the flows that start from an email (no session needed).
import type { Body, Ok, Query } from "./api-types.js";
import type { AuthClient } from "./client.js";

export class Account {
  constructor(private readonly client: AuthClient) {}

  me(): Promise<Ok<"/api/v1/auth/me", "get">> {
    return this.client.authed({ method: "GET", path: "/auth/me" });
  }

  updateProfile(body: Body<"/api/v1/auth/me", "patch">): Promise<Ok<"/api/v1/auth/me", "patch">> {
    return this.client.authed({ method: "PATCH", path: "/auth/me", body });
  }

  /** Changes the password; the server ends every other session of the account. */
  changePassword(body: Body<"/api/v1/auth/change-password", "post">): Promise<Ok<"/api/v1/auth/change-password", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/change-password", body });
  }

  /** Sends a confirmation link to the new address; the change happens when it is followed. */
  changeEmail(body: Body<"/api/v1/auth/change-email", "post">): Promise<Ok<"/api/v1/auth/change-email", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/change-email", body });
  }

  resendVerification(): Promise<Ok<"/api/v1/auth/resend-verification", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/resend-verification" });
  }

  verifyEmail(body: Body<"/api/v1/auth/verify-email", "post">): Promise<Ok<"/api/v1/auth/verify-email", "post">> {
    return this.client.transport.send({ method: "POST", path: "/auth/verify-email", body });
  }

  forgotPassword(body: Body<"/api/v1/auth/forgot-password", "post">): Promise<Ok<"/api/v1/auth/forgot-password", "post">> {
    return this.client.transport.send({ method: "POST", path: "/auth/forgot-password", body });
  }

  resetPassword(body: Body<"/api/v1/auth/reset-password", "post">): Promise<Ok<"/api/v1/auth/reset-password", "post">> {
    return this.client.transport.send({ method: "POST", path: "/auth/reset-password", body });
  }

  sessions(): Promise<Ok<"/api/v1/auth/sessions", "get">> {
    return this.client.authed({ method: "GET", path: "/auth/sessions" });
  }

  revokeSession(id: string): Promise<Ok<"/api/v1/auth/sessions/{id}", "delete">> {
    return this.client.authed({ method: "DELETE", path: `/auth/sessions/${encodeURIComponent(id)}` });
  }

  revokeOtherSessions(): Promise<Ok<"/api/v1/auth/sessions/revoke-others", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/sessions/revoke-others" });
  }

  securityEvents(query: Query<"/api/v1/auth/security-events", "get"> = {}): Promise<Ok<"/api/v1/auth/security-events", "get">> {
    return this.client.authed({ method: "GET", path: "/auth/security-events", query });
  }

  export(): Promise<Ok<"/api/v1/auth/me/export", "get">> {
    return this.client.authed({ method: "GET", path: "/auth/me/export" });
  }

  /** Deletes the account (the password confirms it) and forgets the session here. */
  async delete(body: Body<"/api/v1/auth/me", "delete">): Promise<Ok<"/api/v1/auth/me", "delete">> {
    const answer = await this.client.authed<Ok<"/api/v1/auth/me", "delete">>({ method: "DELETE", path: "/auth/me", body });
    await this.client.forget();
    return answer;
  }

  /** Asks the server whether a token is valid now, its session included. */
  validate(token: string): Promise<Ok<"/api/v1/auth/validate", "post">> {
    return this.client.transport.send({ method: "POST", path: "/auth/validate", body: { token } });
  }
}

// Social sign-in (SPEC §6). The web flow runs in the browser: send the user to `authorizeUrl`;
// the server answers the provider's callback by redirecting to your `redirectTo` with a
// one-time `code`, which `exchange` turns into a session. Native apps that hold an ID token
// from the platform's own sign-in use `signInWithIdToken`.
import type { Body, Ok } from "./api-types.js";
import type { AuthClient, SignInResult } from "./client.js";
import type { Schemas } from "./api-types.js";

export class OAuth {
  constructor(private readonly client: AuthClient) {}

  /** Where to send the browser to sign in with `provider` (`google`, `apple`, `github`, …). */
  authorizeUrl(provider: string, redirectTo: string): string {
    return this.client.transport.url(`/auth/oauth/${encodeURIComponent(provider)}/authorize`, { redirectTo });
  }

  /** Turns the `code` the server redirected to `redirectTo` with into a session. */
  async exchange(body: Body<"/api/v1/auth/oauth/exchange", "post">): Promise<SignInResult> {
    const answer = await this.client.transport.send<Schemas["LoginResponse"]>({ method: "POST", path: "/auth/oauth/exchange", body });
    return this.client.signedIn(answer);
  }

  async signInWithIdToken(provider: string, body: Body<"/api/v1/auth/oauth/{provider}/id-token", "post">): Promise<SignInResult> {
    const path = `/auth/oauth/${encodeURIComponent(provider)}/id-token`;
    const answer = await this.client.transport.send<Schemas["LoginResponse"]>({ method: "POST", path, body });
    return this.client.signedIn(answer);
  }

  /** Starts linking `provider` to the signed-in account: the URL to send the browser to. */
  link(provider: string, body: Body<"/api/v1/auth/oauth/{provider}/link", "post">): Promise<Ok<"/api/v1/auth/oauth/{provider}/link", "post">> {
    return this.client.authed({ method: "POST", path: `/auth/oauth/${encodeURIComponent(provider)}/link`, body });
  }

  /** Completes a link with the `code` the server redirected to `redirectTo` with. */
  confirmLink(body: Body<"/api/v1/auth/oauth/link/confirm", "post">): Promise<Ok<"/api/v1/auth/oauth/link/confirm", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/oauth/link/confirm", body });
  }

  unlink(provider: string): Promise<Ok<"/api/v1/auth/identities/{provider}", "delete">> {
    return this.client.authed({ method: "DELETE", path: `/auth/identities/${encodeURIComponent(provider)}` });
  }
}

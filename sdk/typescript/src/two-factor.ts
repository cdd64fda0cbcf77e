// Two-factor authentication (SPEC §5): TOTP set-up and enabling, backup codes, disabling. A
// sign-in that needs the second factor is completed with `AuthClient.verifySecondFactor`.
import type { Body, Ok } from "./api-types.js";
import type { AuthClient } from "./client.js";

export class TwoFactor {
  constructor(private readonly client: AuthClient) {}

  /** A new TOTP secret (and its QR code) to enter in an authenticator app. */
  setUpTotp(): Promise<Ok<"/api/v1/auth/2fa/totp/setup", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/2fa/totp/setup" });
  }

  /** Enables TOTP with a first code from the app; answers the backup codes, shown once. */
  enableTotp(body: Body<"/api/v1/auth/2fa/totp/enable", "post">): Promise<Ok<"/api/v1/auth/2fa/totp/enable", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/2fa/totp/enable", body });
  }

  regenerateBackupCodes(body: Body<"/api/v1/auth/2fa/backup-codes", "post">): Promise<Ok<"/api/v1/auth/2fa/backup-codes", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/2fa/backup-codes", body });
  }

  disable(body: Body<"/api/v1/auth/2fa/disable", "post">): Promise<Ok<"/api/v1/auth/2fa/disable", "post">> {
    return this.client.authed({ method: "POST", path: "/auth/2fa/disable", body });
  }
}

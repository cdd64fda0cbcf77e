// A signed-in session as the client keeps it.
import type { components } from "./generated/openapi.js";

export type TokenUser = components["schemas"]["TokenUser"];

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch. */
  expiresAt: number;
  user: TokenUser;
  /** The signed device token of this login, to present at the next one. */
  deviceToken?: string | null;
}

export type AuthEvent = "SIGNED_IN" | "TOKEN_REFRESHED" | "SIGNED_OUT";

export function sessionFrom(tokens: components["schemas"]["TokenResponse"], now: number = Date.now()): Session {
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: now + tokens.expiresIn * 1000,
    user: tokens.user,
    deviceToken: tokens.deviceToken ?? null,
  };
}

export function parseSession(text: string | null): Session | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<Session>;
    if (typeof value.accessToken === "string" && typeof value.refreshToken === "string" && typeof value.expiresAt === "number" && value.user) {
      return value as Session;
    }
  } catch {
    // A damaged entry is no session.
  }
  return null;
}

// For Node backends: checks an access token of the server without calling it, with the keys
// of its JWKS cached (jose refetches them when a token names an unknown `kid`, at most once per
// cooldown). `import { verifyAccessToken } from "@manacore/shared-auth/server"`.
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose";
import type { Schemas } from "./api-types.js";
import { AuthApiError, NetworkError } from "./errors.js";

export type AccessTokenClaims = Schemas["AccessTokenClaims"];

export interface VerifyOptions {
  /** The server's `JWT_ISSUER` (its public URL by default). */
  issuer: string;
  /** The server's `JWT_AUDIENCE` (`mana` by default). */
  audience: string;
  /** Where the keys are; default `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Clock skew tolerated, in seconds; default 30, as the server. */
  clockTolerance?: number;
  /**
   * Also ask the server (`POST <baseUrl>/api/v1/auth/validate`) whether the token's session is
   * still live: a signature cannot show a sign-out. Answers are remembered `cacheSeconds` (5).
   */
  checkRevocation?: { baseUrl: string; cacheSeconds?: number };
}

/** Why a token was refused: `code` is the server's reason (`token_expired`, `invalid_signature`, …). */
export class TokenVerificationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "TokenVerificationError";
  }
}

const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
const revocations = new Map<string, { at: number; valid: boolean; error?: string }>();

function keysAt(url: string): ReturnType<typeof createRemoteJWKSet> {
  let keys = keySets.get(url);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(url), { cacheMaxAge: 10 * 60 * 1000, cooldownDuration: 5000 });
    keySets.set(url, keys);
  }
  return keys;
}

function reason(error: unknown): TokenVerificationError {
  if (error instanceof errors.JWTExpired) return new TokenVerificationError("token_expired", "the token has expired");
  if (error instanceof errors.JWKSNoMatchingKey) return new TokenVerificationError("unknown_key", "no published key matches the token");
  if (error instanceof errors.JWSSignatureVerificationFailed) return new TokenVerificationError("invalid_signature", "the signature does not verify");
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenVerificationError("wrong_algorithm", "the token's algorithm is not allowed");
  if (error instanceof errors.JWTClaimValidationFailed) {
    const code = { iss: "invalid_issuer", aud: "invalid_audience", nbf: "token_not_yet_valid", iat: "token_not_yet_valid", typ: "wrong_token_type" }[error.claim];
    return new TokenVerificationError(code ?? "invalid_token", error.message);
  }
  if (error instanceof errors.JOSENotSupported) return new TokenVerificationError("unsupported_critical_header", error.message);
  if (error instanceof errors.JWKSTimeout || error instanceof TypeError) return new TokenVerificationError("keys_unavailable", "the server's keys could not be fetched");
  return new TokenVerificationError("malformed_token", error instanceof Error ? error.message : String(error));
}

/**
 * The claims of `token` if it is an access token of the server for `audience`: `typ: at+jwt`,
 * signed by a published key with that key's own algorithm (RS256, ES256 or EdDSA), issuer,
 * audience, expiry and not-before checked. Throws `TokenVerificationError` otherwise.
 */
export async function verifyAccessToken(token: string, options: VerifyOptions): Promise<AccessTokenClaims> {
  const jwksUrl = options.jwksUrl ?? `${options.issuer.replace(/\/+$/, "")}/.well-known/jwks.json`;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keysAt(jwksUrl), {
      issuer: options.issuer,
      audience: options.audience,
      typ: "at+jwt",
      algorithms: ["RS256", "ES256", "EdDSA"],
      clockTolerance: options.clockTolerance ?? 30,
      requiredClaims: ["sub", "sid", "exp", "iat", "jti"],
    }));
  } catch (error) {
    throw reason(error);
  }
  const claims = payload as unknown as AccessTokenClaims;
  if (options.checkRevocation) await checkSession(token, claims, options.checkRevocation);
  return claims;
}

async function checkSession(token: string, claims: AccessTokenClaims, check: NonNullable<VerifyOptions["checkRevocation"]>): Promise<void> {
  const remembered = revocations.get(claims.jti);
  const maxAge = (check.cacheSeconds ?? 5) * 1000;
  let answer = remembered && Date.now() - remembered.at < maxAge ? remembered : undefined;
  if (!answer) {
    let response: Response;
    try {
      response = await fetch(`${check.baseUrl.replace(/\/+$/, "")}/api/v1/auth/validate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
      });
    } catch (cause) {
      throw new NetworkError("mana-core-auth could not be asked about the session", { cause });
    }
    if (!response.ok) throw new AuthApiError(response.status, (await response.json()) as Schemas["ErrorBody"]);
    const body = (await response.json()) as Schemas["ValidateResponse"];
    answer = { at: Date.now(), valid: body.valid, error: body.error ?? undefined };
    if (revocations.size > 100_000) revocations.clear();
    revocations.set(claims.jti, answer);
  }
  if (!answer.valid) throw new TokenVerificationError(answer.error ?? "session_revoked", "the token's session is no longer valid");
}

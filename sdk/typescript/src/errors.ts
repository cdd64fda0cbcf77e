// Errors as classes carrying the server's `code` (its fixed catalogue), so callers can branch
// with `instanceof` or on `error.code`; `message` is the server's sentence for people.
import type { components } from "./generated/openapi.js";

export type ErrorCode = components["schemas"]["ErrorCode"];
export type FieldError = components["schemas"]["FieldError"];

/** Any answer of the server that is not a success. */
export class AuthApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly requestId: string;
  readonly fieldErrors: FieldError[];
  /** Seconds to wait before retrying, when the server said (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(status: number, body: components["schemas"]["ErrorBody"], retryAfter?: number) {
    super(body.message);
    this.name = new.target.name;
    this.status = status;
    this.code = body.code;
    this.requestId = body.requestId;
    this.fieldErrors = body.errors ?? [];
    this.retryAfter = retryAfter;
  }
}

/** Wrong email or password (or no such account: the server does not say which). */
export class InvalidCredentialsError extends AuthApiError {}
/** The request needs a session, or its access token is invalid or was revoked: sign in again. */
export class UnauthenticatedError extends AuthApiError {}
/** The access token expired. The client refreshes and retries by itself; seen only if that failed. */
export class TokenExpiredError extends AuthApiError {}
/** The refresh token is no longer valid (signed out, rotated elsewhere, expired): sign in again. */
export class SessionExpiredError extends AuthApiError {}
/** The account is locked, or needs its email verified, or the caller may not do this. */
export class ForbiddenError extends AuthApiError {}
/** Some fields were refused; `fieldErrors` names each. */
export class ValidationError extends AuthApiError {}
/** Not enough credits for the spend. */
export class InsufficientCreditsError extends AuthApiError {}
/** Too many requests; retry after `retryAfter` seconds. */
export class RateLimitedError extends AuthApiError {}
/** A second factor was wrong or its challenge is no longer valid. */
export class TwoFactorError extends AuthApiError {}
/** The email, identity or idempotency key is already in use, or the state conflicts. */
export class ConflictError extends AuthApiError {}
/** No such thing. */
export class NotFoundError extends AuthApiError {}
/** The server (or what it depends on) failed or is briefly out of reach; retrying may help. */
export class ServerError extends AuthApiError {}

/** The server could not be reached at all (or its answer was not readable). */
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NetworkError";
  }
}

/** A call that needs a session was made with none stored. */
export class NoSessionError extends Error {
  constructor() {
    super("No session: sign in first.");
    this.name = "NoSessionError";
  }
}

const byCode: Partial<Record<ErrorCode, typeof AuthApiError>> = {
  invalid_credentials: InvalidCredentialsError,
  missing_token: UnauthenticatedError,
  invalid_token: UnauthenticatedError,
  unauthorized: UnauthenticatedError,
  token_expired: TokenExpiredError,
  invalid_refresh_token: SessionExpiredError,
  account_locked: ForbiddenError,
  email_not_verified: ForbiddenError,
  forbidden: ForbiddenError,
  validation_failed: ValidationError,
  insufficient_credits: InsufficientCreditsError,
  rate_limited: RateLimitedError,
  invalid_mfa_token: TwoFactorError,
  invalid_two_factor_code: TwoFactorError,
  email_taken: ConflictError,
  email_in_use: ConflictError,
  identity_in_use: ConflictError,
  idempotency_key_reused: ConflictError,
  conflict: ConflictError,
  two_factor_already_enabled: ConflictError,
  not_found: NotFoundError,
};

/** The error class for an answer: by code first, then by status. */
export function errorFor(status: number, body: components["schemas"]["ErrorBody"], retryAfter?: number): AuthApiError {
  const Class = byCode[body.code] ?? (status >= 500 ? ServerError : AuthApiError);
  return new Class(status, body, retryAfter);
}

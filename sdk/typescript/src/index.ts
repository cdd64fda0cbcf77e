// @manacore/shared-auth: the client of mana-core-auth for web, React Native/Expo and Node.
export { AuthClient, type AuthClientOptions, type AuthStateListener, type SignInResult } from "./client.js";
export type { Session, AuthEvent, TokenUser } from "./session.js";
export {
  memoryStorage,
  localStorageAdapter,
  cookieStorage,
  asyncStorage,
  type SessionStorage,
  type AsyncKeyValue,
  type CookieOptions,
} from "./storage.js";
export * from "./errors.js";
export { newIdempotencyKey, type RetryOptions } from "./retry.js";
export type { Schemas } from "./api-types.js";
export type { UseCredits, BuyCredits } from "./credits.js";

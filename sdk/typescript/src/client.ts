// The client: signs in, keeps the session in a storage adapter, hands out an access token that
// is always fresh (refreshed about a minute before it expires, and again on a 401
// `token_expired`), and calls every endpoint of the server.
import { Account } from "./account.js";
import { Admin } from "./admin.js";
import type { Body, Schemas } from "./api-types.js";
import { Credits } from "./credits.js";
import { ForbiddenError, NoSessionError, SessionExpiredError, TokenExpiredError } from "./errors.js";
import { exclusive } from "./lock.js";
import { OAuth } from "./oauth.js";
import { type AuthEvent, parseSession, type Session, sessionFrom } from "./session.js";
import { memoryStorage, type SessionStorage } from "./storage.js";
import { type Call, type Fetch, Transport } from "./transport.js";
import { TwoFactor } from "./two-factor.js";

export interface AuthClientOptions {
  /** Where the server answers, e.g. `https://auth.example.com`. */
  baseUrl: string;
  /** Where the session is kept; default in memory. */
  storage?: SessionStorage;
  /** The key of the session in the storage; default `mana-auth`. */
  storageKey?: string;
  /** Refresh this long before the access token expires; default 60 s. */
  refreshMarginSeconds?: number;
  fetch?: Fetch;
  /**
   * Tell other tabs of the same origin about sign-ins, refreshes and sign-outs through a
   * `BroadcastChannel` named after the storage key; default on where `BroadcastChannel` exists.
   */
  crossTab?: boolean;
}

/** What a sign-in gives: a session, or a second-factor challenge for `verifySecondFactor`. */
export type SignInResult =
  | { session: Session; mfaRequired?: undefined }
  | { session: null; mfaRequired: true; mfaToken: string; methods: string[] };

export type AuthStateListener = (event: AuthEvent, session: Session | null) => void;

export class AuthClient {
  readonly credits: Credits;
  readonly account: Account;
  readonly twoFactor: TwoFactor;
  readonly oauth: OAuth;
  readonly admin: Admin;
  readonly transport: Transport;

  private readonly storage: SessionStorage;
  private readonly storageKey: string;
  private readonly marginMs: number;
  private readonly listeners = new Set<AuthStateListener>();
  private readonly channel: BroadcastChannel | undefined;
  private refreshing: Promise<Session> | null = null;

  constructor(options: AuthClientOptions) {
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.transport = new Transport(options.baseUrl.replace(/\/+$/, ""), fetchImpl);
    this.storage = options.storage ?? memoryStorage();
    this.storageKey = options.storageKey ?? "mana-auth";
    this.marginMs = (options.refreshMarginSeconds ?? 60) * 1000;
    if ((options.crossTab ?? true) && typeof BroadcastChannel === "function") {
      this.channel = new BroadcastChannel(`mana-auth:${this.storageKey}`);
      // A Node process must not stay alive for a channel alone.
      (this.channel as unknown as { unref?: () => void }).unref?.();
      this.channel.onmessage = (message: MessageEvent<{ event: AuthEvent }>) => void this.relay(message.data.event);
    }
    this.credits = new Credits(this);
    this.account = new Account(this);
    this.twoFactor = new TwoFactor(this);
    this.oauth = new OAuth(this);
    this.admin = new Admin(this);
  }

  /** Registers an account, then signs in (unless the server wants the email verified first). */
  async signUp(body: Body<"/api/v1/auth/register", "post">): Promise<{ user: Schemas["RegisteredUser"] } & (SignInResult | { session: null })> {
    const user = await this.transport.send<Schemas["RegisteredUser"]>({ method: "POST", path: "/auth/register", body });
    try {
      return { user, ...(await this.signIn({ email: body.email, password: body.password })) };
    } catch (error) {
      if (error instanceof ForbiddenError && error.code === "email_not_verified") return { user, session: null };
      throw error;
    }
  }

  async signIn(body: Body<"/api/v1/auth/login", "post">): Promise<SignInResult> {
    const deviceToken = body.deviceToken ?? (await this.storage.getItem(`${this.storageKey}.device`)) ?? undefined;
    const answer = await this.transport.send<Schemas["LoginResponse"]>({
      method: "POST",
      path: "/auth/login",
      body: { ...body, ...(deviceToken ? { deviceToken } : {}) },
    });
    return this.signedIn(answer);
  }

  /** Completes a sign-in that asked for a second factor (a TOTP or a backup code). */
  async verifySecondFactor(body: Body<"/api/v1/auth/2fa/verify", "post">): Promise<Session> {
    const tokens = await this.transport.send<Schemas["TokenResponse"]>({ method: "POST", path: "/auth/2fa/verify", body });
    return this.start(tokens);
  }

  /** @internal A login answer (password, social sign-in): its session, or its challenge. */
  async signedIn(answer: Schemas["LoginResponse"]): Promise<SignInResult> {
    if ("mfaRequired" in answer) {
      return { session: null, mfaRequired: true, mfaToken: answer.mfaToken, methods: answer.methods };
    }
    return { session: await this.start(answer) };
  }

  private async start(tokens: Schemas["TokenResponse"]): Promise<Session> {
    const session = sessionFrom(tokens);
    await this.save(session);
    if (session.deviceToken) await this.storage.setItem(`${this.storageKey}.device`, session.deviceToken);
    this.announce("SIGNED_IN", session);
    return session;
  }

  /** Ends the session on the server (its tokens stop working) and forgets it here. */
  async signOut(): Promise<void> {
    const session = await this.load();
    if (session) {
      try {
        await this.transport.send({ method: "POST", path: "/auth/logout", body: { refreshToken: session.refreshToken } });
      } catch (error) {
        // Already ended on the server: forgetting it here is all that is left to do.
        if (!(error instanceof SessionExpiredError) && !(error instanceof TokenExpiredError)) throw error;
      }
    }
    await this.forget();
  }

  /** The session, refreshed first if its access token is due; `null` when signed out. */
  async getSession(): Promise<Session | null> {
    const session = await this.load();
    if (!session) return null;
    return this.isDue(session) ? this.refresh(session) : session;
  }

  /** An access token valid for at least the refresh margin; refreshes when due. */
  async getAccessToken(): Promise<string> {
    const session = await this.load();
    if (!session) throw new NoSessionError();
    return (this.isDue(session) ? await this.refresh(session) : session).accessToken;
  }

  /** Calls `listener` on every sign-in, refresh and sign-out (here or in another tab); returns how to stop. */
  onAuthStateChange(listener: AuthStateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening to other tabs. */
  close(): void {
    this.channel?.close();
  }

  /** @internal Calls the server with a fresh access token, refreshing once if it says the token expired. */
  async authed<T>(call: Omit<Call, "token">): Promise<T> {
    const token = await this.getAccessToken();
    try {
      return await this.transport.send<T>({ ...call, token });
    } catch (error) {
      if (!(error instanceof TokenExpiredError)) throw error;
      const session = await this.load();
      if (!session) throw error;
      const fresh = await this.refresh(session.accessToken === token ? session : { ...session, accessToken: token });
      return this.transport.send<T>({ ...call, token: fresh.accessToken });
    }
  }

  private isDue(session: Session): boolean {
    return session.expiresAt - this.marginMs <= Date.now();
  }

  /**
   * One refresh for every caller at once in this client, and one at a time across clients that
   * share the storage key: whoever comes second finds the token already rotated (the stored
   * refresh token is not the one it saw) and takes the new session instead of rotating again.
   * The new session is stored before any waiter is answered.
   */
  private refresh(seen: Session): Promise<Session> {
    if (this.refreshing) return this.refreshing;
    const refreshing = exclusive(this.storageKey, async () => {
      const current = await this.load();
      if (!current) throw new NoSessionError();
      if (current.refreshToken !== seen.refreshToken && !this.isDue(current)) return current;
      let tokens: Schemas["TokenResponse"];
      try {
        tokens = await this.transport.send<Schemas["TokenResponse"]>({
          method: "POST",
          path: "/auth/refresh",
          body: { refreshToken: current.refreshToken },
        });
      } catch (error) {
        if (error instanceof SessionExpiredError) await this.forget();
        throw error;
      }
      const next = sessionFrom(tokens);
      await this.save(next);
      this.announce("TOKEN_REFRESHED", next);
      return next;
    });
    this.refreshing = refreshing;
    const clear = () => {
      if (this.refreshing === refreshing) this.refreshing = null;
    };
    refreshing.then(clear, clear);
    return refreshing;
  }

  /** @internal The stored session, if any. */
  async load(): Promise<Session | null> {
    return parseSession(await this.storage.getItem(this.storageKey));
  }

  private async save(session: Session): Promise<void> {
    await this.storage.setItem(this.storageKey, JSON.stringify(session));
  }

  /** @internal Forgets the session (the server ended it) and says so. */
  async forget(): Promise<void> {
    await this.storage.removeItem(this.storageKey);
    this.announce("SIGNED_OUT", null);
  }

  private announce(event: AuthEvent, session: Session | null): void {
    this.channel?.postMessage({ event });
    this.emit(event, session);
  }

  private emit(event: AuthEvent, session: Session | null): void {
    for (const listener of this.listeners) {
      try {
        listener(event, session);
      } catch {
        // One listener's failure must not keep the others from hearing.
      }
    }
  }

  /** Another tab changed the session: tell this tab's listeners what the storage now holds. */
  private async relay(event: AuthEvent): Promise<void> {
    this.emit(event, await this.load());
  }
}

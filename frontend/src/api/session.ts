/**
 * The signed-in session: a short-lived access token in memory, and the rotating refresh token in an
 * HttpOnly cookie that scripts (and so injected scripts) cannot read. The server sets it on sign-in
 * (`refresh_mode: "cookie"`), scoped to `/v1/auth/refresh`; a reload exchanges it for a new access token.
 * Refreshing sends the CSRF token from the readable `lyceum_csrf` cookie as `X-CSRF-Token`. One refresh
 * at a time however many requests ask. (docs/security.md, "The web app's session cookie".)
 */
import type { components } from "./schema";

type TokenPair = components["schemas"]["TokenPair"];
export type Me = components["schemas"]["Me"];

export const CSRF_COOKIE = "lyceum_csrf";
const ORG_KEY = "lyceum.org"; // the last organisation signed in to, to prefill the form (not a secret)
const LEGACY_KEY = "lyceum.session"; // where older versions kept the refresh token itself

export interface SessionState {
  accessToken: string | null;
  expiresAt: number; // epoch ms
  me: Me | null;
  org: string | null;
  restoring: boolean; // a session cookie is being exchanged on start-up
}

type Listener = () => void;

/** The CSRF token of the current session cookie, or null when the browser holds no session. */
export function csrfToken(): string | null {
  const cookies = globalThis.document?.cookie ?? "";
  for (const part of cookies.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(value.join("=")) || null;
  }
  return null;
}

export class SessionStore {
  private state: SessionState = { accessToken: null, expiresAt: 0, me: null, org: null, restoring: false };
  private readonly listeners = new Set<Listener>();
  private refreshing: Promise<boolean> | null = null;

  constructor() {
    try {
      globalThis.localStorage?.removeItem(LEGACY_KEY); // never leave a refresh token where scripts can read it
      this.state.org = globalThis.localStorage?.getItem(ORG_KEY) ?? null;
    } catch {
      // storage disabled: nothing to clean up or prefill
    }
    if (this.hasStoredSession()) this.state = { ...this.state, restoring: true };
  }

  get snapshot(): SessionState {
    return this.state;
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): SessionState => this.state;

  private set(next: Partial<SessionState>): void {
    this.state = { ...this.state, ...next };
    for (const listener of this.listeners) listener();
  }

  /** Whether the browser holds a session cookie (its readable CSRF half is the tell). */
  hasStoredSession(): boolean {
    return csrfToken() !== null;
  }

  accept(tokens: TokenPair, org?: string): void {
    if (org) {
      try {
        globalThis.localStorage?.setItem(ORG_KEY, org);
      } catch {
        // storage disabled: the form just starts empty next time
      }
    }
    this.set({
      accessToken: tokens.access_token,
      expiresAt: Date.now() + tokens.expires_in * 1000,
      org: org ?? this.state.org,
    });
  }

  setMe(me: Me | null): void {
    this.set({ me, restoring: false });
  }

  /** Forget the session in this page (the server expires the cookies on sign-out). */
  clear(): void {
    this.set({ accessToken: null, expiresAt: 0, me: null, restoring: false });
  }

  /** A valid access token, refreshed first when it is about to expire; null when signed out. */
  async token(): Promise<string | null> {
    if (this.state.accessToken && Date.now() < this.state.expiresAt - 15_000) return this.state.accessToken;
    if (!this.hasStoredSession()) return null;
    return (await this.refresh()) ? this.state.accessToken : null;
  }

  /** Exchange the session cookie (rotation: the old one stops working). Concurrent callers share one call. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const csrf = csrfToken();
    if (!csrf) return false;
    try {
      const response = await fetch("/v1/auth/refresh", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: "{}",
      });
      if (!response.ok) {
        // Revoked, reused or expired: the server has expired the cookies too. Sign in again.
        if (response.status === 401 || response.status === 403 || response.status === 422) this.clear();
        return false;
      }
      this.accept((await response.json()) as TokenPair);
      return true;
    } catch {
      return false; // offline: keep the cookie and try again later
    }
  }
}

export const session = new SessionStore();

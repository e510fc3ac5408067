/**
 * The signed-in session: a short-lived access token in memory, and the rotating refresh token in an
 * HttpOnly cookie that scripts (and so injected scripts) cannot read. The server sets it on sign-in
 * (`refresh_mode: "cookie"`), scoped to `/v1/auth/refresh`; a reload exchanges it for a new access token.
 * Refreshing sends the CSRF token from the readable `lyceum_csrf` cookie as `X-CSRF-Token`. One refresh
 * at a time however many requests ask, and however many tabs: tabs take turns under a Web Lock, and the
 * tab that refreshed shares the new access token with the others over a BroadcastChannel, so tabs opened
 * together (a browser restoring its session) rotate the cookie once instead of tripping reuse detection.
 * The server also forgives the same cookie presented again within a few seconds
 * (LYCEUM_REFRESH_REUSE_GRACE_SECONDS), for browsers without Web Locks. Signing out in one tab signs
 * every tab out. (docs/security.md, "The web app's session cookie".)
 *
 * Embedded mode (LTI, docs/lti.md, "Lyceum inside the LMS"): inside an LMS iframe third-party cookies are blocked, so a
 * launch's session keeps its refresh token in memory (and in this tab's sessionStorage when the browser
 * allows it, so a reload inside the iframe survives) and refreshes by body (`{refresh_token}`). It talks to
 * no other tab: the LMS tab's session is not the one a tab of Lyceum opened directly holds.
 */
import type { components } from "./schema";

type TokenPair = components["schemas"]["TokenPair"];
export type Me = components["schemas"]["Me"];

export const CSRF_COOKIE = "lyceum_csrf";
const ORG_KEY = "lyceum.org"; // the last organisation signed in to, to prefill the form (not a secret)
const LEGACY_KEY = "lyceum.session"; // where older versions kept the refresh token itself
const CHANNEL = "lyceum.session"; // tabs tell each other about new access tokens and signing out
const REFRESH_LOCK = "lyceum.refresh"; // held by the one tab refreshing the session cookie
// When a tab last refreshed (a time, no token): written before its lock is released, so a tab that gets
// the lock next knows a new token is on its way over the channel, which may deliver it a moment later.
const REFRESHED_AT_KEY = "lyceum.refreshed_at";
const SHARED_TOKEN_WAIT_MS = 3_000; // bounds only a lost message: then this tab refreshes itself
export const EMBEDDED_KEY = "lyceum.embedded"; // sessionStorage: an embedded (LTI) session of this tab

/** Where an embedded session came from, for the "Opened from <LMS>" line. */
export interface EmbeddedContext {
  platform: string; // the LMS registration's name
  context: string; // the LMS course's title (or label), may be empty
}

interface EmbeddedStored {
  refreshToken: string;
  org: string;
  context: EmbeddedContext;
}

type TabMessage = { type: "tokens"; tokens: TokenPair; at: number } | { type: "signed-out" };

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface SessionState {
  accessToken: string | null;
  expiresAt: number; // epoch ms
  me: Me | null;
  org: string | null;
  restoring: boolean; // a session cookie is being exchanged on start-up
  embedded: EmbeddedContext | null; // an LTI launch's cookie-less session (refresh token by body)
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

function readEmbedded(): EmbeddedStored | null {
  try {
    const raw = globalThis.sessionStorage?.getItem(EMBEDDED_KEY);
    const parsed = raw ? (JSON.parse(raw) as EmbeddedStored) : null;
    return parsed && typeof parsed.refreshToken === "string" && parsed.context ? parsed : null;
  } catch {
    return null; // storage blocked (a third-party iframe in some browsers): memory only
  }
}

function writeEmbedded(value: EmbeddedStored | null): void {
  try {
    if (value) globalThis.sessionStorage?.setItem(EMBEDDED_KEY, JSON.stringify(value));
    else globalThis.sessionStorage?.removeItem(EMBEDDED_KEY);
  } catch {
    // storage blocked: the session lives as long as the page
  }
}

function refreshedAt(): number {
  try {
    return Number(globalThis.localStorage?.getItem(REFRESHED_AT_KEY) ?? 0) || 0;
  } catch {
    return 0;
  }
}

export class SessionStore {
  private state: SessionState = {
    accessToken: null,
    expiresAt: 0,
    me: null,
    org: null,
    restoring: false,
    embedded: null,
  };
  private embeddedRefresh: string | null = null; // the embedded session's refresh token (never a cookie)
  private readonly listeners = new Set<Listener>();
  private refreshing: Promise<boolean> | null = null;
  private readonly channel: BroadcastChannel | null = null;
  private readonly tokenWaiters = new Set<() => void>();

  constructor() {
    try {
      globalThis.localStorage?.removeItem(LEGACY_KEY); // never leave a refresh token where scripts can read it
      this.state.org = globalThis.localStorage?.getItem(ORG_KEY) ?? null;
    } catch {
      // storage disabled: nothing to clean up or prefill
    }
    const embedded = readEmbedded();
    if (embedded) {
      this.embeddedRefresh = embedded.refreshToken;
      this.state = { ...this.state, org: embedded.org, embedded: embedded.context };
    }
    if (this.hasStoredSession()) this.state = { ...this.state, restoring: true };
    try {
      this.channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null;
    } catch {
      this.channel = null;
    }
    this.channel?.addEventListener("message", (event: MessageEvent<TabMessage>) => this.fromOtherTab(event.data));
  }

  /** Another tab refreshed (take its access token instead of refreshing again) or signed out. */
  private fromOtherTab(message: TabMessage): void {
    if (this.state.embedded) return; // the LMS launch's session is this tab's own
    if (message?.type === "tokens") {
      // The other tab's clock stamped it: count the lifetime from then, not from now.
      const expiresAt = message.at + message.tokens.expires_in * 1000;
      if (expiresAt > this.state.expiresAt) this.set({ accessToken: message.tokens.access_token, expiresAt });
      for (const wake of this.tokenWaiters) wake();
      this.tokenWaiters.clear();
    } else if (message?.type === "signed-out") {
      this.clear(false);
    }
  }

  private tell(message: TabMessage): void {
    if (this.state.embedded) return;
    try {
      this.channel?.postMessage(message);
    } catch {
      // a closed channel: the other tabs refresh for themselves
    }
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
    if (this.state.embedded) return this.embeddedRefresh !== null;
    return csrfToken() !== null;
  }

  /** Start an embedded (LTI) session from a launch's token pair: the refresh token stays out of cookies. */
  startEmbedded(tokens: { access_token: string; refresh_token: string; expires_in: number }, org: string, context: EmbeddedContext): void {
    this.embeddedRefresh = tokens.refresh_token;
    writeEmbedded({ refreshToken: tokens.refresh_token, org, context });
    this.set({
      accessToken: tokens.access_token,
      expiresAt: Date.now() + tokens.expires_in * 1000,
      org,
      embedded: context,
      restoring: false,
    });
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

  /** Forget the session in this page (the server expires the cookies on sign-out), and in the other
   * tabs unless they told us. */
  clear(tellOthers = true): void {
    const hadSession = this.state.accessToken !== null || this.state.me !== null;
    if (this.state.embedded) {
      this.embeddedRefresh = null;
      writeEmbedded(null);
      tellOthers = false;
    }
    this.set({ accessToken: null, expiresAt: 0, me: null, restoring: false });
    if (tellOthers && hadSession) this.tell({ type: "signed-out" });
  }

  /** A valid access token, refreshed first when it is about to expire; null when signed out. */
  async token(): Promise<string | null> {
    if (this.state.accessToken && Date.now() < this.state.expiresAt - 15_000) return this.state.accessToken;
    if (!this.hasStoredSession()) return null;
    return (await this.refresh()) ? this.state.accessToken : null;
  }

  /** Exchange the session cookie (rotation: the old one stops working). Concurrent callers share one call. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.refreshOnce().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Take turns with the other tabs; a tab that finds a fresh token (shared while it waited) is done. */
  private async refreshOnce(): Promise<boolean> {
    if (this.state.embedded) return this.doEmbeddedRefresh();
    const locks = (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks;
    if (!locks?.request) return this.doRefresh();
    const before = this.state.accessToken;
    const asked = Date.now();
    const fresh = () =>
      this.state.accessToken !== null && this.state.accessToken !== before && Date.now() < this.state.expiresAt - 15_000;
    try {
      return await locks.request(REFRESH_LOCK, async () => {
        if (fresh()) return true;
        if (refreshedAt() >= asked) {
          // Another tab refreshed while we waited: its token is on the channel. Wait for it (bounded).
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, SHARED_TOKEN_WAIT_MS);
            this.tokenWaiters.add(() => {
              clearTimeout(timer);
              resolve();
            });
          });
          if (fresh()) return true;
        }
        return this.doRefresh();
      });
    } catch {
      return this.doRefresh(); // locks unavailable (an opaque origin): the server's grace window covers it
    }
  }

  /** The embedded session's refresh: the token in the body, no cookie sent or expected. */
  private async doEmbeddedRefresh(): Promise<boolean> {
    const refreshToken = this.embeddedRefresh;
    if (!refreshToken) return false;
    try {
      const response = await fetch("/v1/auth/refresh", {
        method: "POST",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
      if (!response.ok) {
        if (response.status === 401 || response.status === 403 || response.status === 422) this.clear();
        return false;
      }
      const tokens = (await response.json()) as TokenPair;
      const embedded = this.state.embedded;
      if (!tokens.refresh_token || !embedded) return false;
      this.startEmbedded(
        { access_token: tokens.access_token, refresh_token: tokens.refresh_token, expires_in: tokens.expires_in },
        this.state.org ?? "",
        embedded,
      );
      return true;
    } catch {
      return false; // offline: keep the refresh token and try again later
    }
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
      const tokens = (await response.json()) as TokenPair;
      const at = Date.now();
      this.accept(tokens);
      try {
        globalThis.localStorage?.setItem(REFRESHED_AT_KEY, String(at));
      } catch {
        // storage disabled: the next tab refreshes itself (the server's grace window covers it)
      }
      this.tell({ type: "tokens", tokens: { ...tokens, csrf_token: undefined }, at });
      return true;
    } catch {
      return false; // offline: keep the cookie and try again later
    }
  }
}

export const session = new SessionStore();

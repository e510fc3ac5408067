/**
 * The signed-in session: a short-lived access token in memory, the rotating refresh token in
 * localStorage (so a reload keeps you signed in), refreshed once at a time however many requests ask.
 */
import type { components } from "./schema";

type TokenPair = components["schemas"]["TokenPair"];
export type Me = components["schemas"]["Me"];

const STORAGE_KEY = "lyceum.session";

interface Stored {
  refreshToken: string;
  org: string;
}

export interface SessionState {
  accessToken: string | null;
  expiresAt: number; // epoch ms
  me: Me | null;
  org: string | null;
  restoring: boolean; // a stored refresh token is being exchanged on start-up
}

type Listener = () => void;

class SessionStore {
  private state: SessionState = { accessToken: null, expiresAt: 0, me: null, org: null, restoring: false };
  private readonly listeners = new Set<Listener>();
  private refreshing: Promise<boolean> | null = null;

  constructor() {
    const stored = this.stored();
    if (stored) this.state = { ...this.state, org: stored.org, restoring: true };
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

  private stored(): Stored | null {
    try {
      const raw = globalThis.localStorage?.getItem(STORAGE_KEY);
      return raw ? (JSON.parse(raw) as Stored) : null;
    } catch {
      return null;
    }
  }

  hasStoredSession(): boolean {
    return this.stored() !== null;
  }

  accept(tokens: TokenPair, org: string): void {
    globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify({ refreshToken: tokens.refresh_token, org }));
    this.set({ accessToken: tokens.access_token, expiresAt: Date.now() + tokens.expires_in * 1000, org });
  }

  setMe(me: Me | null): void {
    this.set({ me, restoring: false });
  }

  clear(): void {
    globalThis.localStorage?.removeItem(STORAGE_KEY);
    this.set({ accessToken: null, expiresAt: 0, me: null, restoring: false });
  }

  /** A valid access token, refreshed first when it is about to expire; null when signed out. */
  async token(): Promise<string | null> {
    if (this.state.accessToken && Date.now() < this.state.expiresAt - 15_000) return this.state.accessToken;
    if (!this.hasStoredSession()) return null;
    return (await this.refresh()) ? this.state.accessToken : null;
  }

  /** Exchange the refresh token (rotation: the old one stops working). Concurrent callers share one call. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const stored = this.stored();
    if (!stored) return false;
    try {
      const response = await fetch("/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: stored.refreshToken }),
      });
      if (!response.ok) {
        if (response.status === 401 || response.status === 422) this.clear(); // revoked or reused: sign in again
        return false;
      }
      this.accept((await response.json()) as TokenPair, stored.org);
      return true;
    } catch {
      return false; // offline: keep the stored token and try again later
    }
  }
}

export const session = new SessionStore();

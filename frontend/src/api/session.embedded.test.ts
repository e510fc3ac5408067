// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { EMBEDDED_KEY, SessionStore } from "./session";

const CONTEXT = { platform: "Canvas", context: "Python 101" };
const PAIR = { access_token: "a1", refresh_token: "r1", expires_in: 900 };

function pairResponse(access: string, refresh: string): Response {
  return new Response(
    JSON.stringify({ access_token: access, refresh_token: refresh, expires_in: 900, token_type: "bearer" }),
    { status: 200, headers: { "Content-Type": "application/json" } },
  );
}

describe("SessionStore embedded mode (LTI: no cookies, refresh token by body)", () => {
  beforeEach(() => {
    localStorage.clear();
    sessionStorage.clear();
    document.cookie = "lyceum_csrf=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT";
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("starts from a launch's token pair and names the LMS", () => {
    const store = new SessionStore();
    store.startEmbedded(PAIR, "demo", CONTEXT);
    expect(store.snapshot.accessToken).toBe("a1");
    expect(store.snapshot.embedded).toEqual(CONTEXT);
    expect(store.snapshot.org).toBe("demo");
    expect(store.hasStoredSession()).toBe(true);
    // Nothing in localStorage (shared with other tabs and kept forever); this tab's sessionStorage only.
    expect(JSON.stringify({ ...localStorage })).not.toMatch(/r1|a1/);
    expect(JSON.parse(sessionStorage.getItem(EMBEDDED_KEY) ?? "{}").refreshToken).toBe("r1");
  });

  it("refreshes with the refresh token in the body, sends no cookie, and keeps the rotated token", async () => {
    const fetchMock = vi.fn(async () => pairResponse("a2", "r2"));
    vi.stubGlobal("fetch", fetchMock);
    const store = new SessionStore();
    store.startEmbedded({ ...PAIR, expires_in: 0 }, "demo", CONTEXT);
    const [first, second] = await Promise.all([store.token(), store.token()]);
    expect([first, second]).toEqual(["a2", "a2"]);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/v1/auth/refresh");
    expect(init.credentials).toBe("omit");
    expect(init.headers).not.toHaveProperty("X-CSRF-Token");
    expect(JSON.parse(init.body as string)).toEqual({ refresh_token: "r1" });
    expect(JSON.parse(sessionStorage.getItem(EMBEDDED_KEY) ?? "{}").refreshToken).toBe("r2");
    expect(store.snapshot.embedded).toEqual(CONTEXT);
  });

  it("survives a reload of the iframe through sessionStorage", () => {
    new SessionStore().startEmbedded(PAIR, "demo", CONTEXT);
    const reloaded = new SessionStore();
    expect(reloaded.snapshot.embedded).toEqual(CONTEXT);
    expect(reloaded.snapshot.restoring).toBe(true);
    expect(reloaded.hasStoredSession()).toBe(true);
  });

  it("works in memory when storage is blocked", async () => {
    vi.spyOn(Storage.prototype, "setItem").mockImplementation(() => {
      throw new DOMException("blocked", "SecurityError");
    });
    const fetchMock = vi.fn(async () => pairResponse("a2", "r2"));
    vi.stubGlobal("fetch", fetchMock);
    const store = new SessionStore();
    store.startEmbedded({ ...PAIR, expires_in: 0 }, "demo", CONTEXT);
    expect(await store.token()).toBe("a2");
    expect(JSON.parse((fetchMock.mock.calls[0] as unknown as [string, RequestInit])[1].body as string)).toEqual({
      refresh_token: "r1",
    });
  });

  it("ends when the server refuses the refresh token, and forgets it", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 401 })));
    const store = new SessionStore();
    store.startEmbedded({ ...PAIR, expires_in: 0 }, "demo", CONTEXT);
    expect(await store.token()).toBeNull();
    expect(store.snapshot.accessToken).toBeNull();
    expect(store.hasStoredSession()).toBe(false);
    expect(sessionStorage.getItem(EMBEDDED_KEY)).toBeNull();
  });

  it("ignores other tabs: their sign-out or tokens are not this launch's", () => {
    const posted: unknown[] = [];
    class FakeChannel {
      static last: FakeChannel | null = null;
      listener: ((event: MessageEvent) => void) | null = null;
      constructor() {
        FakeChannel.last = this;
      }
      addEventListener(_: string, listener: (event: MessageEvent) => void) {
        this.listener = listener;
      }
      postMessage(message: unknown) {
        posted.push(message);
      }
    }
    vi.stubGlobal("BroadcastChannel", FakeChannel);
    const store = new SessionStore();
    store.startEmbedded(PAIR, "demo", CONTEXT);
    FakeChannel.last?.listener?.({ data: { type: "signed-out" } } as MessageEvent);
    expect(store.snapshot.accessToken).toBe("a1");
    store.clear();
    expect(posted).toEqual([]); // ending the embedded session does not sign the other tabs out
  });
});

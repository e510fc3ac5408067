// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { csrfToken, SessionStore } from "./session";

function setCsrf(value: string | null): void {
  document.cookie =
    value === null ? "lyceum_csrf=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT" : `lyceum_csrf=${value}; path=/`;
}

function tokenResponse(access: string): Response {
  return new Response(JSON.stringify({ access_token: access, expires_in: 900, token_type: "bearer", csrf_token: "c" }), {
    status: 200,
    headers: { "Content-Type": "application/json" },
  });
}

describe("SessionStore (refresh token in an HttpOnly cookie)", () => {
  beforeEach(() => {
    localStorage.clear();
    setCsrf(null);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("removes a refresh token older versions kept in localStorage and never stores one", async () => {
    localStorage.setItem("lyceum.session", JSON.stringify({ refreshToken: "stolen-by-xss", org: "demo" }));
    const store = new SessionStore();
    expect(localStorage.getItem("lyceum.session")).toBeNull();
    store.accept({ access_token: "a1", expires_in: 900, token_type: "bearer", csrf_token: "c" }, "demo");
    expect(Object.values({ ...localStorage })).not.toContain("a1");
    expect(JSON.stringify({ ...localStorage })).not.toMatch(/refresh|a1/);
    expect(localStorage.getItem("lyceum.org")).toBe("demo");
    expect(new SessionStore().snapshot.org).toBe("demo");
  });

  it("knows a session exists from the readable CSRF cookie", () => {
    expect(new SessionStore().hasStoredSession()).toBe(false);
    setCsrf("abc123");
    expect(csrfToken()).toBe("abc123");
    const store = new SessionStore();
    expect(store.hasStoredSession()).toBe(true);
    expect(store.snapshot.restoring).toBe(true);
  });

  it("refreshes with the cookie and the CSRF header, once for concurrent callers", async () => {
    setCsrf("csrf-value");
    const fetchMock = vi.fn(async () => tokenResponse("fresh-access"));
    vi.stubGlobal("fetch", fetchMock);
    const store = new SessionStore();
    const [a, b, c] = await Promise.all([store.refresh(), store.refresh(), store.token()]);
    expect([a, b, c]).toEqual([true, true, "fresh-access"]);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/v1/auth/refresh");
    expect(init.method).toBe("POST");
    expect(init.credentials).toBe("same-origin");
    expect((init.headers as Record<string, string>)["X-CSRF-Token"]).toBe("csrf-value");
    expect(init.body).toBe("{}"); // no refresh token in the body: the browser sends the cookie
    expect(store.snapshot.accessToken).toBe("fresh-access");
  });

  it("signs out when the server refuses the session", async () => {
    setCsrf("csrf-value");
    vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 401 })));
    const store = new SessionStore();
    store.accept({ access_token: "old", expires_in: 0, token_type: "bearer" });
    expect(await store.refresh()).toBe(false);
    expect(store.snapshot.accessToken).toBeNull();
    expect(store.snapshot.me).toBeNull();
  });

  it("keeps the session when offline, and does not call the server without a session cookie", async () => {
    const fetchMock = vi.fn(async () => {
      throw new TypeError("offline");
    });
    vi.stubGlobal("fetch", fetchMock);
    const store = new SessionStore();
    expect(await store.token()).toBeNull();
    expect(fetchMock).not.toHaveBeenCalled();
    setCsrf("csrf-value");
    expect(await store.refresh()).toBe(false);
    expect(store.hasStoredSession()).toBe(true);
  });

  it("tabs take turns: one refresh, the new access token shared with the others", async () => {
    setCsrf("csrf-value");
    let held: Promise<unknown> = Promise.resolve();
    const locks = {
      request<T>(_name: string, callback: () => Promise<T>): Promise<T> {
        const run = held.then(callback);
        held = run.catch(() => undefined);
        return run;
      },
    };
    vi.stubGlobal("navigator", { ...globalThis.navigator, locks });
    let calls = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => {
        calls += 1;
        // The shared token reaches the other tabs before the lock is released (as a browser delivers it).
        await new Promise((resolve) => setTimeout(resolve, 20));
        return tokenResponse(`access-${calls}`);
      }),
    );
    const tabs = [new SessionStore(), new SessionStore(), new SessionStore()];
    const results = await Promise.all(tabs.map((tab) => tab.refresh()));
    expect(results).toEqual([true, true, true]);
    expect(calls).toBe(1);
    expect(tabs.map((tab) => tab.snapshot.accessToken)).toEqual(["access-1", "access-1", "access-1"]);
  });

  it("signing out in one tab signs the others out", async () => {
    const tabs = [new SessionStore(), new SessionStore()];
    tabs.forEach((tab) => tab.accept({ access_token: "a", expires_in: 900, token_type: "bearer" }));
    tabs[0]!.clear();
    await vi.waitFor(() => expect(tabs[1]!.snapshot.accessToken).toBeNull());
  });
});

// @vitest-environment jsdom
import { describe, expect, it, vi } from "vitest";

import { EXPIRED_LINK, exchangeLaunchCode, inFrame, targetPath } from "./lti";

describe("LTI launch helpers", () => {
  it("leads each target to its page", () => {
    expect(targetPath({ kind: "item", course_id: "c1", item_id: "i1" })).toBe("/courses/c1/items/i1");
    expect(targetPath({ kind: "course", course_id: "c1" })).toBe("/courses/c1");
    expect(targetPath({ kind: "item", course_id: "c1", item_id: null })).toBe("/courses/c1");
    expect(targetPath({ kind: "deep_link", deep_link_id: "abc/def" })).toBe("/lti/deep-link/abc%2Fdef");
    expect(targetPath({ kind: "home" })).toBe("/");
  });

  it("exchanges the code without cookies", async () => {
    const body = { access_token: "a", refresh_token: "r", expires_in: 900, target: { kind: "home" } };
    const fetcher = vi.fn(async () => new Response(JSON.stringify(body), { status: 200 }));
    expect((await exchangeLaunchCode("code-1", fetcher)).access_token).toBe("a");
    const [url, init] = fetcher.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/v1/lti/session");
    expect(init.credentials).toBe("omit");
    expect(JSON.parse(init.body as string)).toEqual({ code: "code-1" });
  });

  it("says a used or expired code in human words", async () => {
    for (const status of [400, 404, 410, 422]) {
      const fetcher = vi.fn(async () => new Response("{}", { status }));
      await expect(exchangeLaunchCode("old", fetcher)).rejects.toThrow(EXPIRED_LINK);
    }
    const down = vi.fn(async () => new Response("{}", { status: 503 }));
    await expect(exchangeLaunchCode("x", down)).rejects.toThrow(/problem opening/);
    const offline = vi.fn(async () => {
      throw new TypeError("offline");
    });
    await expect(exchangeLaunchCode("x", offline)).rejects.toThrow(/can't be reached/);
  });

  it("knows when it is framed", () => {
    expect(inFrame(window)).toBe(false);
    const framed = { self: {}, top: {} } as unknown as Window;
    expect(inFrame(framed)).toBe(true);
    const guarded = {
      self: {},
      get top(): Window {
        throw new DOMException("cross-origin", "SecurityError");
      },
    } as unknown as Window;
    expect(inFrame(guarded)).toBe(true);
  });
});

// @vitest-environment jsdom
import axe from "axe-core";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { resetPublicConfig } from "../lib/publicConfig";
import { SiteFooter } from "./SiteFooter";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  resetPublicConfig();
  container = document.createElement("div");
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
});

async function renderWith(response: Response) {
  const fetchMock = vi.fn(async () => response);
  vi.stubGlobal("fetch", fetchMock);
  await act(async () => root.render(<SiteFooter />));
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
  return fetchMock;
}

describe("SiteFooter", () => {
  it("shows the server's release version from /v1/config", async () => {
    const fetchMock = await renderWith(
      new Response(JSON.stringify({ demo_mode: false, version: "0.1.0" }), {
        status: 200,
        headers: { "content-type": "application/json" },
      }),
    );
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(container.querySelector('[data-testid="app-version"]')?.textContent).toBe("Lyceum v0.1.0");
    const results = await axe.run(container);
    expect(results.violations).toEqual([]);
  });

  it("still renders, without a version, when the config cannot be read", async () => {
    await renderWith(new Response("{}", { status: 503, headers: { "content-type": "application/problem+json" } }));
    expect(container.querySelector('[data-testid="app-version"]')?.textContent).toBe("Lyceum ");
    expect(container.querySelector("a")?.getAttribute("href")).toBe("/schema");
  });
});

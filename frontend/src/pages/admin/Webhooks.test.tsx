// @vitest-environment jsdom
import axe from "axe-core";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { WebhooksSection } from "./Webhooks";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const ENDPOINT = {
  id: "7b0c6a3e-0000-4000-8000-0000000000e1",
  url: "https://hooks.example.com/lyceum",
  events: ["enrollment.created"],
  enabled: false,
  disabled_reason: "Disabled automatically at 2026-12-02T03:00:00+00:00: every attempt of a delivery failed",
  disabled_at: "2026-12-02T03:00:00Z",
  breaker: "closed",
  consecutive_failures: 8,
  last_success_at: null,
  last_failure_at: "2026-12-02T03:00:00Z",
  created_at: "2026-12-01T00:00:00Z",
  updated_at: "2026-12-02T03:00:00Z",
};
const DELIVERY = {
  id: "7b0c6a3e-0000-4000-8000-0000000000d1",
  event_id: "7b0c6a3e-0000-4000-8000-0000000000a1",
  event_type: "enrollment.created",
  status: "failed",
  attempts: 8,
  next_attempt_at: null,
  last_attempt_at: "2026-12-02T03:00:00Z",
  delivered_at: null,
  last_status_code: 503,
  last_error: "answered 503",
  created_at: "2026-12-01T00:00:00Z",
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

let container: HTMLDivElement;
let root: Root;
let endpoints: unknown[];
let failList: boolean;
const calls: { method: string; path: string; body: string }[] = [];

beforeEach(() => {
  endpoints = [];
  failList = false;
  calls.length = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      calls.push({ method: request.method, path: url.pathname, body: await request.clone().text() });
      if (url.pathname === "/v1/admin/webhooks" && request.method === "POST") {
        const body = JSON.parse(await request.clone().text());
        if (body.url.includes("localhost"))
          return json({ status: 422, title: "Invalid", errors: [{ pointer: "#/url", detail: "resolves to a non-public address" }] }, 422);
        return json({ id: "new", url: body.url, events: body.events, secret: "whsec_c2VjcmV0LXNob3duLW9uY2U=" }, 201);
      }
      if (url.pathname.endsWith("/deliveries")) return json({ items: [DELIVERY], total: 1, limit: 50, offset: 0, next: null });
      if (failList) return json({ status: 503, title: "Unavailable", detail: "Try again" }, 503);
      return json({ items: endpoints, total: endpoints.length, limit: 100, offset: 0, next: null });
    }),
  );
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
});

async function render() {
  await act(async () => root.render(<WebhooksSection />));
}

const button = (text: string) => [...container.querySelectorAll("button")].find((b) => b.textContent === text)!;

describe("Webhooks section", () => {
  it("shows an empty state and is accessible", async () => {
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=webhooks-empty]")).not.toBeNull());
    expect(container.querySelectorAll("input[type=checkbox]").length).toBe(8);
    const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });

  it("shows an error state with a retry", async () => {
    failList = true;
    await render();
    await vi.waitFor(() => expect(container.textContent).toContain("Try again"));
  });

  it("checks the form, shows the server's refusal, then the secret once with a copy button", async () => {
    await render();
    const form = container.querySelector<HTMLFormElement>("form")!;
    await act(async () => form.requestSubmit());
    expect(container.textContent).toContain("Choose at least one event.");
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);
    const url = form.querySelector<HTMLInputElement>("input[type=url]")!;
    const type = async (value: string) =>
      act(async () => {
        Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(url, value);
        url.dispatchEvent(new Event("input", { bubbles: true }));
      });
    await type("https://localhost/hook");
    await act(async () => form.querySelector<HTMLInputElement>("input[type=checkbox]")!.click());
    await act(async () => form.requestSubmit());
    await vi.waitFor(() => expect(form.textContent).toContain("non-public address"));
    expect(url.getAttribute("aria-invalid")).toBe("true");
    await type("https://hooks.example.com/lyceum");
    await act(async () => form.requestSubmit());
    await vi.waitFor(() => expect(container.querySelector("[data-testid=webhook-secret]")).not.toBeNull());
    expect(container.querySelector("[data-testid=webhook-secret-value]")!.textContent).toBe("whsec_c2VjcmV0LXNob3duLW9uY2U=");
    expect(button("Copy secret")).toBeDefined();
    await act(async () => button("I have stored it").click());
    expect(container.querySelector("[data-testid=webhook-secret]")).toBeNull();
    const sent = JSON.parse(calls.filter((c) => c.method === "POST").at(-1)!.body);
    expect(sent).toEqual({ url: "https://hooks.example.com/lyceum", events: ["enrollment.created"] });
  });

  it("shows the disabled notice and the delivery log with response codes", async () => {
    endpoints = [ENDPOINT];
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=webhook-list]")).not.toBeNull());
    expect(container.querySelector("[role=alert]")!.textContent).toContain("Disabled automatically");
    await act(async () => button("Deliveries").click());
    await vi.waitFor(() => expect(container.querySelector("[data-testid=webhook-deliveries] table")).not.toBeNull());
    expect(container.querySelector("[data-testid=webhook-deliveries]")!.textContent).toContain("503");
    // Disabled: no replay until the endpoint is enabled.
    expect(container.querySelector("button[aria-label='Replay enrollment.created delivery']")).toBeNull();
  });
});

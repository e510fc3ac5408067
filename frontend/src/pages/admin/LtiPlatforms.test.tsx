// @vitest-environment jsdom
import axe from "axe-core";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { LtiPlatformsSection } from "./LtiPlatforms";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const TOOL = {
  login_url: "https://lyceum.example/lti/login",
  launch_url: "https://lyceum.example/lti/launch",
  jwks_url: "https://lyceum.example/lti/jwks.json",
  registration_url: "https://lyceum.example/lti/register",
  deep_linking_url: "https://lyceum.example/lti/launch",
  domain: "lyceum.example",
};
const PLATFORM = {
  id: "7b0c6a3e-0000-4000-8000-000000000001",
  name: "Moodle (production)",
  issuer: "https://moodle.example.edu",
  client_id: "abc123",
  auth_login_url: "https://moodle.example.edu/mod/lti/auth.php",
  auth_token_url: "https://moodle.example.edu/mod/lti/token.php",
  key_set_url: "https://moodle.example.edu/mod/lti/certs.php",
  deployment_ids: ["1"],
  frame_origins: [],
  registered_by: "dynamic",
  created_at: "2026-11-30T18:00:00Z",
  updated_at: "2026-11-30T18:00:00Z",
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

let container: HTMLDivElement;
let root: Root;
let platforms: unknown[];
const calls: { method: string; path: string; body: string }[] = [];

beforeEach(() => {
  platforms = [];
  calls.length = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      calls.push({ method: request.method, path: url.pathname, body: await request.clone().text() });
      if (url.pathname === "/v1/admin/lti/tool") return json(TOOL);
      if (url.pathname === "/v1/admin/lti/registrations")
        return json({ url: "https://lyceum.example/lti/register?invite=tok", expires_at: "2026-12-01T18:00:00Z" }, 201);
      if (url.pathname === "/v1/admin/lti/platforms" && request.method === "POST")
        return json({ status: 409, title: "Conflict", detail: "A platform with this issuer and client_id is already registered" }, 409);
      return json({ items: platforms, total: platforms.length, limit: 100, offset: 0, next: null });
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
  await act(async () => root.render(<LtiPlatformsSection />));
  await vi.waitFor(() => expect(container.querySelector("[data-testid=lti-tool-urls]")).not.toBeNull());
}

describe("LMS platforms section", () => {
  it("shows the tool's URLs and an empty state, and is accessible", async () => {
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=lti-empty]")).not.toBeNull());
    expect(container.textContent).toContain("https://lyceum.example/lti/login");
    expect(container.textContent).toContain("https://lyceum.example/lti/jwks.json");
    expect(container.textContent).toContain("No LMS is registered yet");
    const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });

  it("lists registrations with labelled actions", async () => {
    platforms = [PLATFORM];
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=lti-platform-table]")).not.toBeNull());
    expect(container.textContent).toContain("Moodle (production)");
    expect(container.textContent).toContain("by the LMS");
    expect(container.querySelector("button[aria-label='Edit Moodle (production)']")).not.toBeNull();
    expect(container.querySelector("button[aria-label='Remove Moodle (production)']")).not.toBeNull();
  });

  it("creates a registration link and shows it", async () => {
    await render();
    const button = [...container.querySelectorAll("button")].find((b) => b.textContent === "Create registration link")!;
    await act(async () => button.click());
    await vi.waitFor(() => expect(container.querySelector("[data-testid=lti-invite] input")).not.toBeNull());
    const input = container.querySelector<HTMLInputElement>("[data-testid=lti-invite] input")!;
    expect(input.value).toBe("https://lyceum.example/lti/register?invite=tok");
    expect(container.querySelector(`label[for="${input.id}"]`)).not.toBeNull();
  });

  it("checks the form before sending and shows the server's refusal", async () => {
    await render();
    const add = [...container.querySelectorAll("button")].find((b) => b.textContent === "Add a platform by hand")!;
    await act(async () => add.click());
    const form = container.querySelector<HTMLFormElement>("form.lti-form")!;
    await act(async () => form.requestSubmit());
    expect(form.querySelectorAll("[aria-invalid=true]").length).toBe(5);
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);

    const set = (name: string, value: string) => {
      const field = form.querySelector<HTMLInputElement | HTMLTextAreaElement>(`[name=${name}]`)!;
      const proto = field instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
      Object.getOwnPropertyDescriptor(proto, "value")!.set!.call(field, value);
      field.dispatchEvent(new Event("input", { bubbles: true }));
    };
    await act(async () => {
      set("issuer", PLATFORM.issuer);
      set("client_id", PLATFORM.client_id);
      set("auth_login_url", PLATFORM.auth_login_url);
      set("auth_token_url", PLATFORM.auth_token_url);
      set("key_set_url", PLATFORM.key_set_url);
      set("deployment_ids", "1\n2");
    });
    await act(async () => form.requestSubmit());
    await vi.waitFor(() => expect(form.textContent).toContain("already registered"));
    const sent = JSON.parse(calls.find((c) => c.method === "POST" && c.path === "/v1/admin/lti/platforms")!.body);
    expect(sent.deployment_ids).toEqual(["1", "2"]);
    expect(sent.issuer).toBe(PLATFORM.issuer);
  });
});

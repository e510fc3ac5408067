// @vitest-environment jsdom
import axe from "axe-core";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SingleSignOnSection } from "./SingleSignOn";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const CONNECTION = {
  id: "7b0c6a3e-0000-4000-8000-000000000002",
  display_name: "Campus ID",
  issuer: "https://login.uni.test/realms/main",
  client_id: "lyceum",
  has_client_secret: true,
  enabled: true,
  allowed_domains: ["uni.test"],
  role_claim: "groups",
  role_mapping: { teachers: "instructor" },
  default_role: "learner",
  scopes: ["openid", "email", "profile"],
  redirect_uri: "https://lyceum.example/v1/auth/sso/demo/callback",
  login_url: "/v1/auth/sso/demo/login",
  updated_at: "2026-12-01T00:00:00Z",
};

let container: HTMLDivElement;
let root: Root;
let connection: unknown;
let required: boolean;
const calls: { method: string; path: string; body: string }[] = [];

beforeEach(() => {
  connection = null;
  required = false;
  calls.length = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      const body = await request.clone().text();
      calls.push({ method: request.method, path: url.pathname, body });
      if (url.pathname === "/v1/admin/sso/settings") {
        if (request.method === "PUT") {
          if (!connection) return json({ status: 409, title: "Conflict", detail: "Set up and turn on a single sign-on connection before requiring it" }, 409);
          required = (JSON.parse(body) as { sso_required: boolean }).sso_required;
        }
        return json({ sso_required: required });
      }
      if (url.pathname === "/v1/admin/sso/oidc") {
        if (request.method === "PUT")
          return json({ status: 422, title: "The request did not validate", detail: "The issuer could not be used: it answered 404", errors: [{ pointer: "#/issuer", detail: "it answered 404" }] }, 422);
        return connection ? json(connection) : json({ status: 404, title: "Not found" }, 404);
      }
      if (url.pathname === "/v1/admin/sso/saml")
        // As the API answers before the first setup: not configured, with what the admin gives their IdP.
        return json({
          configured: false,
          sp_entity_id: "https://lyceum.example/v1/auth/sso/demo/saml/metadata",
          acs_url: "https://lyceum.example/v1/auth/sso/demo/saml/acs",
          metadata_url: "https://lyceum.example/v1/auth/sso/demo/saml/metadata",
        });
      return json({ status: 404, title: "Not found" }, 404);
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
  await act(async () => root.render(<SingleSignOnSection />));
  await vi.waitFor(() => expect(container.querySelector("#sso-oidc-title")).not.toBeNull());
  await vi.waitFor(() => expect(container.querySelector("#sso-saml-title")).not.toBeNull());
}

describe("Single sign-on section", () => {
  it("shows empty states for both protocols and is accessible", async () => {
    await render();
    expect(container.textContent).toContain("Not set up yet. Register Lyceum at your identity provider");
    expect(container.textContent).toContain("Not set up yet. Give Lyceum your identity provider's metadata.");
    expect(container.textContent).toContain("https://lyceum.example/v1/auth/sso/demo/saml/acs");
    expect(container.querySelector("#sso-saml-title")!.closest("form")!.textContent).not.toContain("Remove");
    const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });

  it("shows a stored connection without its secret, and the redirect URI to register", async () => {
    connection = CONNECTION;
    await render();
    await vi.waitFor(() => expect(container.textContent).toContain(CONNECTION.redirect_uri));
    expect(container.querySelector<HTMLInputElement>("#oidc-issuer")!.value).toBe(CONNECTION.issuer);
    expect(container.querySelector<HTMLInputElement>("#oidc-client_secret")!.value).toBe("");
    expect(container.querySelector<HTMLTextAreaElement>("#oidc-role_mapping")!.value).toBe("teachers = instructor");
    expect(container.textContent).toContain("A secret is stored");
  });

  it("checks the form before sending, then shows the server's reason on the field", async () => {
    await render();
    const form = container.querySelector<HTMLFormElement>("form[aria-labelledby=sso-oidc-title]")!;
    await act(async () => form.requestSubmit());
    expect(calls.filter((c) => c.method === "PUT")).toEqual([]);
    expect(container.querySelector("#oidc-issuer")!.getAttribute("aria-invalid")).toBe("true");
    const type = (id: string, value: string) => {
      const input = container.querySelector<HTMLInputElement>(id)!;
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!;
      setter.call(input, value);
      input.dispatchEvent(new Event("input", { bubbles: true }));
    };
    await act(async () => {
      type("#oidc-display_name", "Campus ID");
      type("#oidc-issuer", "https://login.uni.test/realms/main");
      type("#oidc-client_id", "lyceum");
    });
    await act(async () => form.requestSubmit());
    await vi.waitFor(() => expect(container.querySelector("#oidc-issuer-error")?.textContent).toBe("it answered 404"));
    const put = calls.find((c) => c.method === "PUT" && c.path === "/v1/admin/sso/oidc")!;
    expect(JSON.parse(put.body)).toMatchObject({ display_name: "Campus ID", client_id: "lyceum" });
  });

  it("explains why SSO cannot be required without a connection", async () => {
    await render();
    const toggle = container.querySelector<HTMLInputElement>("input[role=switch]")!;
    await act(async () => toggle.click());
    await vi.waitFor(() => expect(container.textContent).toContain("Set up and turn on a single sign-on connection"));
  });
});

import { describe, expect, it } from "vitest";

import {
  buttonLabel,
  checkOidcForm,
  checkSamlForm,
  EMPTY_OIDC,
  EMPTY_SAML,
  EXPIRED_SIGN_IN,
  exchangeSignInCode,
  formatRoleMapping,
  loginHref,
  orgSlug,
  parseDomains,
  parseRoleMapping,
  safeReturnPath,
} from "./sso";

describe("sign-in page", () => {
  it("looks up only what can be an organisation", () => {
    expect(orgSlug(" Demo ")).toBe("demo");
    expect(orgSlug("")).toBeNull();
    expect(orgSlug("not an org")).toBeNull();
  });

  it("labels the buttons with the provider's name", () => {
    expect(buttonLabel({ display_name: "University Login" })).toBe("Sign in with University Login");
    expect(buttonLabel({ display_name: " " })).toBe("Sign in with your organisation's account");
  });

  it("only ever returns to a path on this site", () => {
    expect(safeReturnPath("/courses/1")).toBe("/courses/1");
    for (const unsafe of ["//evil.example", "/\\evil.example", "https://evil.example", "", null, "/a\nb"]) {
      expect(safeReturnPath(unsafe)).toBe("/");
    }
  });

  it("adds the return path to the login URL when there is one", () => {
    const provider = { login_url: "/v1/auth/sso/demo/login" };
    expect(loginHref(provider, "/courses/1")).toBe("/v1/auth/sso/demo/login?next=%2Fcourses%2F1");
    expect(loginHref(provider, "/")).toBe("/v1/auth/sso/demo/login");
    expect(loginHref(provider, "//evil.example")).toBe("/v1/auth/sso/demo/login");
  });
});

describe("exchangeSignInCode", () => {
  it("asks for a cookie session and returns it", async () => {
    let sent: unknown;
    const fetcher = (async (_url: string, init: RequestInit) => {
      sent = JSON.parse(String(init.body));
      return new Response(JSON.stringify({ access_token: "a", expires_in: 900, org: "demo" }), { status: 200 });
    }) as unknown as typeof fetch;
    const session = await exchangeSignInCode("abc", fetcher);
    expect(sent).toEqual({ code: "abc", refresh_mode: "cookie" });
    expect(session.org).toBe("demo");
  });

  it("says a used or old code has expired", async () => {
    const fetcher = (async () => new Response("{}", { status: 400 })) as unknown as typeof fetch;
    await expect(exchangeSignInCode("used", fetcher)).rejects.toThrow(EXPIRED_SIGN_IN);
  });
});

describe("admin forms", () => {
  it("reads email domains and role mappings as people type them", () => {
    expect(parseDomains("@Uni.test, staff.uni.test\n\nuni.test")).toEqual(["uni.test", "staff.uni.test"]);
    expect(parseRoleMapping("teachers = instructor\n\nit-admins=Admin\nbroken\nx = king")).toEqual({
      mapping: { teachers: "instructor", "it-admins": "admin" },
      bad: [4, 5],
    });
    expect(formatRoleMapping({ teachers: "instructor" })).toBe("teachers = instructor");
  });

  it("builds the OIDC body and keeps the stored secret when none is typed", () => {
    const form = {
      ...EMPTY_OIDC,
      display_name: " Campus ID ",
      issuer: " https://login.uni.test/realms/main ",
      client_id: " lyceum ",
      allowed_domains: "uni.test",
      role_claim: "groups",
      role_mapping: "teachers = instructor",
    };
    expect(checkOidcForm(form)).toEqual({
      body: {
        display_name: "Campus ID",
        enabled: true,
        issuer: "https://login.uni.test/realms/main",
        client_id: "lyceum",
        allowed_domains: ["uni.test"],
        role_claim: "groups",
        role_mapping: { teachers: "instructor" },
        default_role: "learner",
      },
      errors: {},
    });
    expect(checkOidcForm({ ...form, client_secret: " s3cret " }).body?.client_secret).toBe("s3cret");
    expect(checkOidcForm({ ...form, remove_secret: true, client_secret: "x" }).body?.client_secret).toBe("");
  });

  it("says which OIDC fields to fix", () => {
    const { body, errors } = checkOidcForm({ ...EMPTY_OIDC, role_mapping: "teachers = instructor", allowed_domains: "not a domain" });
    expect(body).toBeUndefined();
    expect(Object.keys(errors).sort()).toEqual(["allowed_domains", "client_id", "display_name", "issuer", "role_claim"]);
  });

  it("builds the SAML body from a metadata URL or an uploaded file", () => {
    const base = { ...EMPTY_SAML, display_name: "Shibboleth" };
    expect(checkSamlForm({ ...base, idp_metadata_url: "https://idp.uni.test/metadata" }).body).toMatchObject({
      display_name: "Shibboleth",
      idp_metadata_url: "https://idp.uni.test/metadata",
    });
    const xml = '<md:EntityDescriptor entityID="https://idp.uni.test"/>';
    const fromFile = checkSamlForm({ ...base, idp_metadata_url: "https://ignored.test/m", idp_metadata_xml: xml }).body;
    expect(fromFile).toMatchObject({ idp_metadata_xml: xml });
    expect(fromFile).not.toHaveProperty("idp_metadata_url");
    expect(checkSamlForm(base).errors).toHaveProperty("idp_metadata_url");
    expect(checkSamlForm({ ...base, idp_metadata_xml: "<html/>" }).errors).toHaveProperty("idp_metadata_xml");
  });
});

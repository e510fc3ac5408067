import { describe, expect, it } from "vitest";

import { ApiError } from "../api/client";
import type { SsoProviders } from "../lib/sso";
import { signInMessage } from "./Login";

const ssoRequired = new ApiError("This organization signs in with single sign-on", 403, {
  type: "https://lyceum.dev/problems/sso-required",
  status: 403,
  detail: 'This organization signs in with single sign-on: use the "Sign in with" button for your organization instead of a password',
});

describe("sign-in messages", () => {
  it("says in the page's words that SSO is required, naming the organisation's buttons", () => {
    const sso: SsoProviders = { sso_required: true, providers: [{ protocol: "oidc", display_name: "Campus ID", login_url: "/v1/auth/sso/uni/login" }] };
    expect(signInMessage(ssoRequired, sso)).toBe(
      'Members of this organisation sign in with single sign-on, not a password. Use "Sign in with Campus ID" below.',
    );
    expect(signInMessage(ssoRequired, null)).toBe(
      "Members of this organisation sign in with single sign-on, not a password. Use your organisation's sign-in button instead.",
    );
  });

  it("keeps other refusals as they were", () => {
    expect(signInMessage(new ApiError("x", 401, { status: 401 }))).toMatch(/don't match an account/);
    expect(signInMessage(new ApiError("Not allowed", 403, { status: 403, type: "https://lyceum.dev/problems/forbidden" }))).toBe("Not allowed");
  });
});

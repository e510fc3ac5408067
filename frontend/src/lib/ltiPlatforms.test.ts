import { describe, expect, it } from "vitest";

import { checkForm, EMPTY_FORM, formOf, parseDeploymentIds, serverFieldErrors, type Platform } from "./ltiPlatforms";

const filled = {
  ...EMPTY_FORM,
  name: " Canvas ",
  issuer: "https://canvas.instructure.com",
  client_id: " 10000000000001 ",
  auth_login_url: "https://sso.canvaslms.com/api/lti/authorize_redirect",
  auth_token_url: "https://sso.canvaslms.com/login/oauth2/token",
  key_set_url: "https://sso.canvaslms.com/api/lti/security/jwks",
  deployment_ids: "1:abc\n2:def, 1:abc\n\n",
  frame_origins: "https://school.instructure.com\n",
};

describe("parseDeploymentIds", () => {
  it("splits on lines and commas, trims, drops blanks and repeats", () => {
    expect(parseDeploymentIds(" a \nb,c\n\n a ,")).toEqual(["a", "b", "c"]);
    expect(parseDeploymentIds("")).toEqual([]);
  });
});

describe("checkForm", () => {
  it("builds the request body of the contract", () => {
    expect(checkForm(filled)).toEqual({
      body: {
        name: "Canvas",
        issuer: "https://canvas.instructure.com",
        client_id: "10000000000001",
        auth_login_url: "https://sso.canvaslms.com/api/lti/authorize_redirect",
        auth_token_url: "https://sso.canvaslms.com/login/oauth2/token",
        key_set_url: "https://sso.canvaslms.com/api/lti/security/jwks",
        deployment_ids: ["1:abc", "2:def"],
        frame_origins: ["https://school.instructure.com"],
      },
    });
  });

  it("names each missing or malformed field", () => {
    const result = checkForm({ ...filled, client_id: "  ", key_set_url: "ftp://x", auth_login_url: "not a url", frame_origins: "*" });
    expect(result).toEqual({
      errors: {
        client_id: "Required.",
        key_set_url: expect.stringContaining("https://"),
        auth_login_url: expect.stringContaining("URL"),
        frame_origins: expect.stringContaining("https://"),
      },
    });
    expect(Object.keys((checkForm(EMPTY_FORM) as { errors: object }).errors).sort()).toEqual(
      ["auth_login_url", "auth_token_url", "client_id", "issuer", "key_set_url"],
    );
  });
});

describe("server errors and editing", () => {
  it("maps problem pointers to fields", () => {
    expect(
      serverFieldErrors({
        status: 422,
        errors: [
          { pointer: "#/key_set_url", detail: "must use https" },
          { pointer: "#/deployment_ids/1", detail: "must not be blank" },
          { pointer: "#/unknown", detail: "ignored" },
        ],
      }),
    ).toEqual({ key_set_url: "must use https", deployment_ids: "must not be blank" });
    expect(serverFieldErrors(undefined)).toEqual({});
  });

  it("fills the form from a registration, one deployment per line", () => {
    const platform = {
      id: "p1",
      name: "Moodle",
      issuer: "https://moodle.example.edu",
      client_id: "abc",
      auth_login_url: "https://moodle.example.edu/mod/lti/auth.php",
      auth_token_url: "https://moodle.example.edu/mod/lti/token.php",
      key_set_url: "https://moodle.example.edu/mod/lti/certs.php",
      deployment_ids: ["1", "2"],
      frame_origins: [],
      registered_by: "dynamic",
      created_at: "2026-11-30T18:00:00Z",
      updated_at: "2026-11-30T18:00:00Z",
    } as Platform;
    expect(formOf(platform).deployment_ids).toBe("1\n2");
    expect(checkForm(formOf(platform))).toHaveProperty("body.deployment_ids", ["1", "2"]);
  });
});

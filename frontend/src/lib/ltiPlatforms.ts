/**
 * LTI platform registrations (issue 14): the admin form's rules and the calls, on the typed API client.
 * The server validates again (and decides https vs. private addresses); these checks only say early what
 * would be refused.
 */
import { api, ApiError, describeProblem, must, type Problem, type Schemas } from "../api/client";

export type Platform = Schemas["PlatformOut"];
export type PlatformBody = Schemas["PlatformIn"];
export type ToolUrls = Schemas["ToolUrlsOut"];
export type Invite = Schemas["RegistrationInviteOut"];

/** What the form holds: deployment ids as typed (one per line or comma-separated). */
export interface PlatformForm {
  name: string;
  issuer: string;
  client_id: string;
  auth_login_url: string;
  auth_token_url: string;
  key_set_url: string;
  deployment_ids: string;
  frame_origins: string;
}

export const EMPTY_FORM: PlatformForm = {
  name: "",
  issuer: "",
  client_id: "",
  auth_login_url: "",
  auth_token_url: "",
  key_set_url: "",
  deployment_ids: "",
  frame_origins: "",
};

export const URL_FIELDS = ["issuer", "auth_login_url", "auth_token_url", "key_set_url"] as const;

/** Deployment ids (or origins) from a text box: split on new lines and commas, trimmed, blanks and repeats dropped. */
export function parseDeploymentIds(text: string): string[] {
  const ids: string[] = [];
  for (const part of text.split(/[\n,]+/)) {
    const id = part.trim();
    if (id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

export function formOf(platform: Platform): PlatformForm {
  return {
    name: platform.name,
    issuer: platform.issuer,
    client_id: platform.client_id,
    auth_login_url: platform.auth_login_url,
    auth_token_url: platform.auth_token_url,
    key_set_url: platform.key_set_url,
    deployment_ids: platform.deployment_ids.join("\n"),
    frame_origins: platform.frame_origins.join("\n"),
  };
}

/** The request body, or the problems per field (in words) when something is missing or not a URL. */
export function checkForm(form: PlatformForm): { body: PlatformBody } | { errors: Partial<Record<keyof PlatformForm, string>> } {
  const errors: Partial<Record<keyof PlatformForm, string>> = {};
  for (const key of ["issuer", "client_id", ...URL_FIELDS] as const) {
    if (!form[key].trim()) errors[key] = "Required.";
  }
  for (const key of URL_FIELDS) {
    const value = form[key].trim();
    if (value && !/^https?:\/\/[^\s/?#]+/i.test(value)) errors[key] = "Must be a URL starting with https://.";
  }
  if (form.name.length > 200) errors.name = "At most 200 characters.";
  if (parseDeploymentIds(form.frame_origins).some((o) => !/^https?:\/\/[^\s/?#]+/i.test(o)))
    errors.frame_origins = "Each origin must start with https://.";
  if (Object.keys(errors).length) return { errors };
  return {
    body: {
      name: form.name.trim(),
      issuer: form.issuer.trim(),
      client_id: form.client_id.trim(),
      auth_login_url: form.auth_login_url.trim(),
      auth_token_url: form.auth_token_url.trim(),
      key_set_url: form.key_set_url.trim(),
      deployment_ids: parseDeploymentIds(form.deployment_ids),
      frame_origins: parseDeploymentIds(form.frame_origins),
    },
  };
}

/** Field errors the server named (problem+json `errors[].pointer` like `#/deployment_ids/1`). */
export function serverFieldErrors(problem: Problem | undefined): Partial<Record<keyof PlatformForm, string>> {
  const errors: Partial<Record<keyof PlatformForm, string>> = {};
  for (const e of problem?.errors ?? []) {
    const field = (e.pointer ?? "").replace(/^#\//, "").split("/")[0] as keyof PlatformForm;
    if (field in EMPTY_FORM && e.detail) errors[field] = e.detail;
  }
  return errors;
}

export const ltiApi = {
  list: () => must(api.GET("/v1/admin/lti/platforms", { params: { query: { limit: 100 } } })),
  tool: () => must(api.GET("/v1/admin/lti/tool")),
  create: (body: PlatformBody) => must(api.POST("/v1/admin/lti/platforms", { body })),
  update: (id: string, body: PlatformBody) =>
    must(api.PATCH("/v1/admin/lti/platforms/{platform_id}", { params: { path: { platform_id: id } }, body })),
  invite: () => must(api.POST("/v1/admin/lti/registrations")),
  async remove(id: string): Promise<void> {
    // 204 has no body, which `must` would read as a failure.
    const { error, response } = await api.DELETE("/v1/admin/lti/platforms/{platform_id}", {
      params: { path: { platform_id: id } },
    });
    if (!response.ok) {
      const problem = { status: response.status, ...(error as object) } as Problem;
      throw new ApiError(describeProblem(problem), response.status, problem);
    }
  },
};

/**
 * Single sign-on in the web app (docs/sso.md): the sign-in page's "Sign in with …" buttons, the one-time code
 * exchange at `/sso/complete`, and the admin forms' rules (OIDC and SAML connections, "SSO required").
 * The server checks everything again; these checks only say early what would be refused.
 */
import { api, ApiError, authedFetch, describeProblem, must, type Schemas } from "../api/client";
import { session } from "../api/session";

export type SsoProviders = Schemas["SsoProviders"];
export type SsoProvider = Schemas["SsoProvider"];
export type SsoSession = Schemas["SsoSessionOut"];
export type OidcConnection = Schemas["OidcConnectionOut"];
export type OidcBody = Schemas["OidcConnectionIn"];
export type Role = "learner" | "instructor" | "admin";
export const ROLES: readonly Role[] = ["learner", "instructor", "admin"];

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const EXPIRED_SIGN_IN = "This sign-in link has expired or was already used. Sign in again from the sign-in page.";
export const MISSING_SIGN_IN_CODE = "This page finishes a single sign-on. Start from the sign-in page.";

/** An organisation as typed on the sign-in page, or null when it cannot be one (no lookup then). */
export function orgSlug(typed: string): string | null {
  const slug = typed.trim().toLowerCase();
  return SLUG.test(slug) ? slug : null;
}

export function buttonLabel(provider: Pick<SsoProvider, "display_name">): string {
  return `Sign in with ${provider.display_name.trim() || "your organisation's account"}`;
}

/** Mirrors the server's rule: a path on this site only (never `//host`, `/\host` or a scheme), else "/". */
export function safeReturnPath(value: string | null | undefined): string {
  if (!value || value.length > 500 || !value.startsWith("/")) return "/";
  if (value.startsWith("//") || value.startsWith("/\\")) return "/";
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f || ch === "\\") return "/";
  }
  return value;
}

/** The provider's login URL, carrying where to go afterwards when that is somewhere other than home. */
export function loginHref(provider: Pick<SsoProvider, "login_url">, next?: string | null): string {
  const path = safeReturnPath(next);
  if (path === "/") return provider.login_url;
  const separator = provider.login_url.includes("?") ? "&" : "?";
  return `${provider.login_url}${separator}${new URLSearchParams({ next: path }).toString()}`;
}

/** The providers an organisation offers (none when it is unknown or the lookup fails: the form still works). */
export async function fetchProviders(org: string): Promise<SsoProviders> {
  const slug = orgSlug(org);
  if (!slug) return { providers: [], sso_required: false };
  try {
    const { data } = await api.GET("/v1/auth/sso/{org}", { params: { path: { org: slug } } });
    return data ?? { providers: [], sso_required: false };
  } catch {
    return { providers: [], sso_required: false };
  }
}

/** Trade the one-time code for a session (refresh token in the HttpOnly cookie, like a password sign-in). */
export async function exchangeSignInCode(code: string, fetcher: typeof fetch = fetch): Promise<SsoSession> {
  let response: Response;
  try {
    response = await fetcher("/v1/sso/session", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code, refresh_mode: "cookie" }),
    });
  } catch {
    throw new Error("Lyceum can't be reached. Check your connection, then sign in again.");
  }
  if (response.status >= 400 && response.status < 500 && response.status !== 429) throw new Error(EXPIRED_SIGN_IN);
  if (!response.ok) throw new Error("Lyceum had a problem signing you in. Please try again in a moment.");
  return (await response.json()) as SsoSession;
}

export function startSsoSession(signedIn: SsoSession): void {
  session.accept(
    { access_token: signedIn.access_token, expires_in: signedIn.expires_in, token_type: "bearer", csrf_token: signedIn.csrf_token },
    signedIn.org,
  );
}

// --- administration -------------------------------------------------------------------------------------------

/** Email domains from a text box: lines or commas, lower-cased, "@" dropped, blanks and repeats dropped. */
export function parseDomains(text: string): string[] {
  const domains: string[] = [];
  for (const part of text.split(/[\n,\s]+/)) {
    const domain = part.trim().toLowerCase().replace(/^@/, "");
    if (domain && !domains.includes(domain)) domains.push(domain);
  }
  return domains;
}

export function isDomain(value: string): boolean {
  return /^[a-z0-9.-]+\.[a-z0-9-]+$/.test(value);
}

/** "value = role" lines → {value: role}; lines that do not parse are reported by number. */
export function parseRoleMapping(text: string): { mapping: Record<string, Role>; bad: number[] } {
  const mapping: Record<string, Role> = {};
  const bad: number[] = [];
  text.split("\n").forEach((line, index) => {
    if (!line.trim()) return;
    const at = line.lastIndexOf("=");
    const value = at > 0 ? line.slice(0, at).trim() : "";
    const role = at > 0 ? line.slice(at + 1).trim().toLowerCase() : "";
    if (!value || !(ROLES as readonly string[]).includes(role)) bad.push(index + 1);
    else mapping[value] = role as Role;
  });
  return { mapping, bad };
}

export function formatRoleMapping(mapping: Record<string, string> | undefined): string {
  return Object.entries(mapping ?? {})
    .map(([value, role]) => `${value} = ${role}`)
    .join("\n");
}

/** The fields both protocols share on the form. */
export interface CommonForm {
  display_name: string;
  enabled: boolean;
  allowed_domains: string;
  role_claim: string;
  role_mapping: string;
  default_role: Role;
}

export interface OidcForm extends CommonForm {
  issuer: string;
  client_id: string;
  client_secret: string; // empty: keep the stored one
  remove_secret: boolean;
}

export interface SamlForm extends CommonForm {
  idp_metadata_url: string;
  idp_metadata_xml: string;
}

export type FieldErrors = Record<string, string>;

const COMMON_EMPTY: CommonForm = {
  display_name: "",
  enabled: true,
  allowed_domains: "",
  role_claim: "",
  role_mapping: "",
  default_role: "learner",
};

export const EMPTY_OIDC: OidcForm = { ...COMMON_EMPTY, issuer: "", client_id: "", client_secret: "", remove_secret: false };
export const EMPTY_SAML: SamlForm = { ...COMMON_EMPTY, idp_metadata_url: "", idp_metadata_xml: "" };

function checkCommon(form: CommonForm, errors: FieldErrors) {
  const domains = parseDomains(form.allowed_domains);
  const notDomains = domains.filter((d) => !isDomain(d));
  if (!form.display_name.trim()) errors.display_name = "Give the button a name people recognise, such as your university's.";
  if (notDomains.length) errors.allowed_domains = `These are not email domains: ${notDomains.join(", ")}.`;
  const { mapping, bad } = parseRoleMapping(form.role_mapping);
  if (bad.length) errors.role_mapping = `Write one "value = role" per line (learner, instructor or admin); check line ${bad.join(", ")}.`;
  if (Object.keys(mapping).length && !form.role_claim.trim()) errors.role_claim = "Name the claim or attribute the values come from.";
  return {
    display_name: form.display_name.trim(),
    enabled: form.enabled,
    allowed_domains: domains,
    role_claim: form.role_claim.trim(),
    role_mapping: mapping,
    default_role: form.default_role,
  };
}

export function oidcFormOf(connection: OidcConnection): OidcForm {
  return {
    display_name: connection.display_name,
    enabled: connection.enabled,
    allowed_domains: connection.allowed_domains.join("\n"),
    role_claim: connection.role_claim,
    role_mapping: formatRoleMapping(connection.role_mapping),
    default_role: (ROLES as readonly string[]).includes(connection.default_role) ? (connection.default_role as Role) : "learner",
    issuer: connection.issuer,
    client_id: connection.client_id,
    client_secret: "",
    remove_secret: false,
  };
}

/** The PUT body, or the fields to fix. A blank secret keeps the stored one; "remove" sends "" (a public client). */
export function checkOidcForm(form: OidcForm): { body?: OidcBody; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const common = checkCommon(form, errors);
  const issuer = form.issuer.trim(); // as the provider spells it: the ID token's "iss" must match exactly
  if (!/^https?:\/\/[^\s/?#]+/.test(issuer)) errors.issuer = "Paste the issuer URL from your identity provider, starting with https://.";
  if (!form.client_id.trim()) errors.client_id = "Paste the client ID your identity provider gave Lyceum.";
  if (Object.keys(errors).length) return { errors };
  const body: OidcBody = { ...common, issuer, client_id: form.client_id.trim() };
  if (form.remove_secret) body.client_secret = "";
  else if (form.client_secret.trim()) body.client_secret = form.client_secret.trim();
  return { body, errors };
}

/** The SAML admin API's body (`PUT /v1/admin/sso/saml`): a metadata URL or the uploaded XML, not both. */
export function checkSamlForm(form: SamlForm): { body?: Record<string, unknown>; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const common = checkCommon(form, errors);
  const url = form.idp_metadata_url.trim();
  const xml = form.idp_metadata_xml.trim();
  if (!url && !xml) errors.idp_metadata_url = "Give the identity provider's metadata URL, or upload its metadata file.";
  if (url && !/^https?:\/\/\S+$/.test(url)) errors.idp_metadata_url = "The metadata URL must start with https://.";
  if (xml && !xml.includes("EntityDescriptor")) errors.idp_metadata_xml = "This file does not look like SAML metadata (no EntityDescriptor).";
  if (Object.keys(errors).length) return { errors };
  return { body: { ...common, ...(xml ? { idp_metadata_xml: xml } : { idp_metadata_url: url }) }, errors };
}

/** The server's 422 field errors (`#/issuer`) onto the form's fields. */
export function serverFieldErrors(error: unknown): FieldErrors {
  const out: FieldErrors = {};
  if (error instanceof ApiError) {
    for (const e of error.problem.errors ?? []) {
      const field = (e.pointer ?? "").replace(/^#\//, "").split("/")[0];
      if (field && e.detail) out[field] = e.detail;
    }
  }
  return out;
}

// The SAML admin API (GET answers before setup too, with configured: false and the SP's entity ID, ACS and
// metadata URLs); called untyped: a typed client for it is follow-up work.
async function samlCall(method: "GET" | "PUT" | "DELETE", body?: unknown): Promise<Record<string, unknown> | null> {
  const request = new Request(`${globalThis.location?.origin ?? ""}/v1/admin/sso/saml`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let response: Response;
  try {
    response = await authedFetch(request);
  } catch (error) {
    throw new Error(describeProblem(error));
  }
  if (response.status === 404 && method === "GET") return null;
  if (response.status === 204) return null;
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    const problem = { status: response.status, ...data };
    throw new ApiError(describeProblem(problem), response.status, problem);
  }
  return data;
}

export const saml = {
  get: () => samlCall("GET"),
  put: (body: Record<string, unknown>) => samlCall("PUT", body),
  remove: () => samlCall("DELETE"),
};

export function samlFormOf(connection: Record<string, unknown>): SamlForm {
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  const role = text(connection.default_role);
  return {
    display_name: text(connection.display_name),
    enabled: connection.enabled !== false,
    allowed_domains: list(connection.allowed_domains).join("\n"),
    role_claim: text(connection.role_claim),
    role_mapping: formatRoleMapping(
      connection.role_mapping && typeof connection.role_mapping === "object" ? (connection.role_mapping as Record<string, string>) : {},
    ),
    default_role: (ROLES as readonly string[]).includes(role) ? (role as Role) : "learner",
    idp_metadata_url: text(connection.idp_metadata_url),
    idp_metadata_xml: "",
  };
}

export const oidc = {
  get: async (): Promise<OidcConnection | null> => {
    try {
      return await must(api.GET("/v1/admin/sso/oidc"));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  },
  put: (body: OidcBody) => must(api.PUT("/v1/admin/sso/oidc", { body })),
  remove: () => api.DELETE("/v1/admin/sso/oidc"),
  settings: () => must(api.GET("/v1/admin/sso/settings")),
  setRequired: (sso_required: boolean) => must(api.PUT("/v1/admin/sso/settings", { body: { sso_required } })),
};

/**
 * Verifiable credentials (issue 13): the shapes of the credentials API and the small helpers the pages share.
 *
 * The types are HAND-WRITTEN from the design contract (/work/prompts/credentials-design.md, "HTTP contracts")
 * because the server endpoints were written in parallel with these pages, so `frontend/openapi.json` did not
 * describe them yet. Field names match the contract exactly. The server's endpoints have since landed: the
 * `Fits` checks at the end make `tsc` fail if a generated type stops fitting these (a renamed or missing
 * field). Replacing these with `Schemas[...]` and the calls with the typed `api` client is a follow-up.
 */
import { ApiError, authedFetch, describeProblem, type Problem, type Schemas } from "../api/client";

export type CredentialStatus = string; // "active" | "revoked"

/** One check of a verification report; names in order: format, signature, claims, schema, issuer, validity, status. */
export interface VerificationCheck {
  check: string;
  passed: boolean;
  detail: string;
}

/** `POST /v1/credentials/verify` → */
export interface VerificationReport {
  verified: boolean;
  checks: VerificationCheck[];
}

/** The OBv3 credential JSON (with its Data Integrity proof); the pages read only a few fields of it. */
export type CredentialDocument = Record<string, unknown>;

/** OBv3 allows criteria as `{id?, narrative?}`; the share data may also carry the narrative as a string. */
export type Criteria = string | { id?: string; narrative?: string } | null | undefined;
/** An image is a URL, or an OBv3 Image object `{id, type: "Image", caption?}`. */
export type ImageRef = string | { id?: string; caption?: string } | null | undefined;

/** `GET /v1/credentials/{id}`: the public share data (no auth). */
export interface PublicCredential {
  id: string;
  status: CredentialStatus;
  issued_at: string;
  revoked_at: string | null;
  course_title: string;
  recipient_name: string; // the learner's chosen display name, "" if none
  achievement: { name: string; description: string; criteria: Criteria; image: ImageRef };
  issuer: { id: string; name: string; url: string; email: string; image: ImageRef };
  credential: CredentialDocument;
  jwt: string;
  share_url: string;
  linkedin_url: string;
}

/** One item of `GET /v1/me/credentials` (and the answer of `PATCH /v1/me/credentials/{id}`). */
export interface MyCredential {
  id: string;
  course_id: string;
  issued_at: string;
  status: CredentialStatus;
  credential: CredentialDocument;
  jwt: string;
  share_url: string;
  course_title: string;
  achievement_name: string;
  issuer_name: string;
  image: ImageRef;
  display_name: string;
  revoked_at: string | null;
  revocation_reason: string | null;
  linkedin_url: string;
}

/** One item of `GET /v1/admin/credentials` (and the answer of the revoke call). */
export interface StaffCredential {
  id: string;
  course_id: string;
  course_title: string;
  user_id: string;
  learner_name: string;
  learner_email: string;
  issued_at: string;
  status: CredentialStatus;
  revoked_at: string | null;
  revocation_reason: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface IssuerKey {
  kid: string;
  active: boolean;
  created_at: string;
  retired_at: string | null;
}

export interface IssuerProfile {
  name: string;
  url: string;
  email: string;
  image_url: string;
  description: string;
}

/** `GET/PUT /v1/admin/issuer` and `POST /v1/admin/issuer/keys/rotate` → */
export interface IssuerView extends IssuerProfile {
  did: string;
  keys: IssuerKey[];
}

/** A JSON call with the session's token when there is one (the public endpoints need none). Errors become
 * an ApiError whose message is a sentence fit to show, as `must` does for the typed client. */
export async function call<T>(method: "GET" | "POST" | "PUT" | "PATCH", path: string, body?: unknown): Promise<T> {
  const origin = globalThis.location?.origin ?? "";
  const init: RequestInit = { method, headers: { Accept: "application/json, application/problem+json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  let response: Response;
  try {
    response = await authedFetch(new Request(origin + path, init));
  } catch (error) {
    throw new Error(describeProblem(error));
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const problem = { status: response.status, ...(parsed && typeof parsed === "object" ? parsed : {}) } as Problem;
    throw new ApiError(describeProblem(problem), response.status, problem);
  }
  return parsed as T;
}

export const credentialsApi = {
  mine: (limit = 50, offset = 0) => call<Page<MyCredential>>("GET", `/v1/me/credentials?limit=${limit}&offset=${offset}`),
  rename: (id: string, display_name: string) =>
    call<MyCredential>("PATCH", `/v1/me/credentials/${encodeURIComponent(credentialKey(id))}`, { display_name }),
  public: (id: string) => call<PublicCredential>("GET", `/v1/credentials/${encodeURIComponent(id)}`),
  verify: (input: { credential: CredentialDocument } | { jwt: string }) =>
    call<VerificationReport>("POST", "/v1/credentials/verify", input),
  staffList: (query: { status?: string; course_id?: string; limit: number; offset: number }) => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(key, String(value));
    return call<Page<StaffCredential>>("GET", `/v1/admin/credentials?${params}`);
  },
  revoke: (id: string, reason: string) =>
    call<StaffCredential>("POST", `/v1/admin/credentials/${encodeURIComponent(credentialKey(id))}/revoke`, { reason }),
  issuer: () => call<IssuerView>("GET", "/v1/admin/issuer"),
  saveIssuer: (profile: IssuerProfile) => call<IssuerView>("PUT", "/v1/admin/issuer", profile),
  rotateKey: () => call<IssuerView>("POST", "/v1/admin/issuer/keys/rotate"),
};

/** The credential's uuid: the API's `id`, or the last segment should it ever be the full credential URL. */
export function credentialKey(id: string): string {
  return id.replace(/[/#?]+$/, "").split("/").pop() ?? id;
}

/** Where the OBv3-baked SVG of a credential downloads from (public, an attachment). */
export function badgeSvgUrl(id: string): string {
  return `/v1/credentials/${encodeURIComponent(credentialKey(id))}/badge.svg`;
}

/** The URL of an image reference, or null when there is none usable. */
export function imageUrl(image: ImageRef): string | null {
  const url = typeof image === "string" ? image : image?.id;
  if (!url) return null;
  return /^(https?:|data:image\/|\/)/i.test(url) ? url : null;
}

/** The criteria narrative as text. */
export function criteriaText(criteria: Criteria): string {
  if (!criteria) return "";
  return typeof criteria === "string" ? criteria : (criteria.narrative ?? "");
}

/** The narrative's paragraphs: blank lines separate them, single line breaks are the YAML's wrapping. */
export function paragraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, " ").trim())
    .filter(Boolean);
}

/** Up to two initials of an achievement, for the generated badge graphic. */
export function initials(name: string): string {
  const words = name.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const [first = "?", second] = words;
  const letters = second ? [...first].slice(0, 1).join("") + [...second].slice(0, 1).join("") : [...first].slice(0, 2).join("");
  return letters.toUpperCase();
}

/** A stable hue per achievement, so each generated badge looks like itself. */
export function hue(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)!) % 360;
  return h;
}

const CHECK_NAMES: Record<string, string> = {
  format: "Format",
  signature: "Signature",
  claims: "JWT claims",
  schema: "Open Badges schema",
  issuer: "Issuer",
  validity: "Validity period",
  status: "Revocation status",
};

/** A check's name for people ("status" → "Revocation status"); unknown names are shown as they come. */
export function checkName(check: string): string {
  return CHECK_NAMES[check] ?? check;
}

/** What the "Verify a credential" box holds: a credential as JSON, or a VC-JWT (three base64url parts). */
export function parseVerifyInput(text: string): { credential: CredentialDocument } | { jwt: string } | { error: string } {
  const trimmed = text.trim();
  if (!trimmed) return { error: "Paste a credential (JSON) or a VC-JWT first." };
  if (trimmed.startsWith("{")) {
    try {
      const value: unknown = JSON.parse(trimmed);
      if (!value || typeof value !== "object" || Array.isArray(value)) return { error: "The JSON is not a credential object." };
      // The download of "My credentials" is the credential itself; a verify body `{"credential": …}` works too.
      const inner = (value as { credential?: unknown }).credential;
      if (inner && typeof inner === "object" && !Array.isArray(inner)) return { credential: inner as CredentialDocument };
      return { credential: value as CredentialDocument };
    } catch {
      return { error: "This isn't valid JSON. Paste the whole credential file, or a VC-JWT." };
    }
  }
  // Anything else goes to the server as a JWT: its report says what is wrong with it ("format").
  return { jwt: trimmed.replace(/\s+/g, "") };
}

/** Save text as a file the browser downloads. */
export function downloadText(filename: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.rel = "noopener";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}

/** A file name from an achievement name: "HTTP APIs" → "http-apis". */
export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || "credential"
  );
}

const DATE = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric" });

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : DATE.format(date);
}

// Drift guard: each generated OpenAPI type must fit the hand-written one above.
type Fits<Generated extends Wanted, Wanted> = [Generated, Wanted];
export type ContractChecks = [
  Fits<Schemas["CredentialItem"], MyCredential>,
  Fits<Schemas["SharedCredential"], PublicCredential>,
  Fits<Schemas["AdminCredentialOut"], StaffCredential>,
  Fits<Schemas["IssuerOut"], IssuerView>,
  Fits<IssuerProfile, Schemas["IssuerProfileIn"]>,
  Fits<Schemas["VerifyOut"], VerificationReport>,
];

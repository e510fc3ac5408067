/**
 * Course authoring without the editor: the API calls (the course travels as YAML text, so these use the
 * authenticated fetch directly rather than the JSON client), the server's 422 errors turned into editor
 * lint markers, and the small form view's fields read from and written into the YAML text.
 */
import { authedFetch, ApiError, describeProblem, type Problem, type Schemas } from "../../../api/client";

export type AuthoringCourse = Schemas["AuthoringCourse"];
export type DraftDetail = Schemas["DraftDetail"];
export type DraftCreated = Schemas["DraftCreated"];
export type CoursePreview = Schemas["CoursePreview"];
export type CourseDiff = Schemas["CourseDiff"];
export type Published = Schemas["Published"];
export type MigrationReport = Schemas["MigrationReport"];

/** One problem in the YAML as the server reports it (422 problem+json `errors`). */
export interface YamlError {
  path: string;
  line: number | null;
  message: string;
}

/** A problem the request answered: its sentence, and the YAML errors when it was a validation failure. */
export class AuthoringError extends ApiError {
  constructor(
    message: string,
    status: number,
    problem: Problem,
    readonly yamlErrors: YamlError[],
  ) {
    super(message, status, problem);
  }
}

export function yamlErrorsOf(problem: unknown): YamlError[] {
  const errors = (problem as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is Record<string, unknown> => Boolean(e) && typeof e === "object" && typeof e.message === "string")
    .map((e) => ({
      path: typeof e.path === "string" ? e.path : "$",
      line: typeof e.line === "number" ? e.line : null,
      message: e.message as string,
    }));
}

async function call<T>(method: string, path: string, yaml?: string): Promise<T> {
  const init: RequestInit = { method, headers: yaml === undefined ? {} : { "Content-Type": "application/yaml" } };
  if (yaml !== undefined) init.body = yaml;
  let response: Response;
  try {
    response = await authedFetch(new Request(`${globalThis.location?.origin ?? ""}${path}`, init));
  } catch (error) {
    throw new AuthoringError(describeProblem(error), 0, {}, []);
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const problem = { status: response.status, ...((body as object | null) ?? {}) } as Problem;
    const yamlErrors = yamlErrorsOf(body);
    const message = yamlErrors.length
      ? (problem.detail ?? "The course has problems")
      : describeProblem(problem);
    throw new AuthoringError(message, response.status, problem, yamlErrors);
  }
  return body as T;
}

export const authoringApi = {
  list: () => call<AuthoringCourse[]>("GET", "/v1/authoring/courses"),
  get: (id: string) => call<DraftDetail>("GET", `/v1/authoring/courses/${id}`),
  create: (yaml: string) => call<DraftCreated>("POST", "/v1/authoring/courses", yaml),
  save: (id: string, yaml: string) => call<DraftCreated>("PUT", `/v1/authoring/courses/${id}`, yaml),
  validate: (yaml: string) => call<{ valid: boolean; slug: string; title: string }>("POST", "/v1/authoring/validate", yaml),
  preview: (id: string) => call<CoursePreview>("GET", `/v1/authoring/courses/${id}/preview`),
  diff: (id: string) => call<CourseDiff>("GET", `/v1/authoring/courses/${id}/diff`),
  publish: (id: string) => call<Published>("POST", `/v1/authoring/courses/${id}/publish`),
  migrate: (id: string) => call<MigrationReport>("POST", `/v1/authoring/courses/${id}/migrate`),
};

/** A lint marker: character offsets in the document, for CodeMirror's `setDiagnostics`. */
export interface Marker {
  from: number;
  to: number;
  line: number;
  message: string;
}

/** Each error at its line (the whole line marked; an error without a line, or past the end, marks line 1
 * or the last line), with the path in front of the message so the author knows which key it means. */
export function markersFor(text: string, errors: YamlError[]): Marker[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return errors.map((error) => {
    const line = Math.min(Math.max(error.line ?? 1, 1), starts.length);
    const from = starts[line - 1] ?? 0;
    const end = line < starts.length ? (starts[line] ?? text.length + 1) - 1 : text.length;
    const where = error.path && error.path !== "$" ? `${error.path}: ` : "";
    return { from, to: Math.max(end, from), line, message: `${where}${error.message}` };
  });
}

/** The common fields the form view edits (top-level scalar keys of the course YAML). */
export const FORM_FIELDS = ["title", "summary", "level", "tags", "estimated_hours"] as const;
export type FormField = (typeof FORM_FIELDS)[number];
export type FormValues = Record<FormField, string>;
export const LEVELS = ["beginner", "intermediate", "advanced"];

function unquote(raw: string): string {
  const value = raw.trim();
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
    try {
      return JSON.parse(value) as string;
    } catch {
      return value.slice(1, -1);
    }
  }
  if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) return value.slice(1, -1).replace(/''/g, "'");
  return value;
}

/** The form's values as the YAML states them ("" when absent or not a one-line value). Tags as "a, b". */
export function readForm(yaml: string): FormValues {
  const values = Object.fromEntries(FORM_FIELDS.map((f) => [f, ""])) as FormValues;
  for (const line of yaml.split("\n")) {
    const match = /^([a-z_]+):[ \t]*(.*?)\s*$/.exec(line);
    if (!match || !(FORM_FIELDS as readonly string[]).includes(match[1] ?? "")) continue;
    const key = match[1] as FormField;
    const raw = (match[2] ?? "").replace(/\s+#.*$/, "");
    if (raw === "|" || raw === ">" || raw.startsWith("|") || raw.startsWith(">")) continue;
    if (key === "tags") {
      const inner = /^\[(.*)\]$/.exec(raw);
      values.tags = inner ? (inner[1] ?? "").split(",").map((t) => unquote(t)).filter(Boolean).join(", ") : "";
    } else {
      values[key] = unquote(raw);
    }
  }
  return values;
}

function yamlValue(key: FormField, value: string): string {
  if (key === "tags") {
    const tags = value.split(",").map((t) => t.trim()).filter(Boolean);
    return `[${tags.join(", ")}]`;
  }
  if (key === "estimated_hours") return String(Number.parseInt(value, 10) || 0);
  if (key === "level") return value;
  return JSON.stringify(value); // a JSON string is a valid YAML scalar, whatever it contains
}

/** The YAML with one top-level field set: its line (and any block value under it) replaced, or a new line
 * added after `title:` (or at the top) when it is absent. Everything else is kept as written. */
export function writeField(yaml: string, key: FormField, value: string): string {
  const lines = yaml.split("\n");
  const line = `${key}: ${yamlValue(key, value)}`;
  const at = lines.findIndex((l) => l.startsWith(`${key}:`));
  if (at >= 0) {
    let end = at + 1; // a block value (`summary: |`) continues on indented or blank lines
    const continues = (l: string | undefined) => l !== undefined && (l.startsWith(" ") || l.startsWith("\t") || l === "");
    while (end < lines.length && continues(lines[end])) {
      if (lines[end] === "" && !(lines[end + 1] ?? "").startsWith(" ")) break;
      end++;
    }
    lines.splice(at, end - at, line);
    return lines.join("\n");
  }
  const title = lines.findIndex((l) => l.startsWith("title:"));
  lines.splice(title >= 0 ? title + 1 : 0, 0, line);
  return lines.join("\n");
}

export function statusLabel(course: Pick<AuthoringCourse, "status" | "published_version">): string {
  if (course.status === "draft") return "Draft";
  if (course.status === "published") return `Published v${course.published_version}`;
  return `Published v${course.published_version}, draft changes pending`;
}

export const STARTER_YAML = `slug: my-new-course
title: My new course
summary: One sentence on what learners will be able to do.
level: beginner
estimated_hours: 1
tags: [new]
competencies:
  - slug: first-skill
    name: The first skill
modules:
  - slug: getting-started
    title: Getting started
    items:
      - slug: welcome
        kind: lesson
        title: Welcome
        bloom_level: remember
        competencies: [first-skill]
        body: |
          What this course is about, in a few sentences.
      - slug: first-check
        kind: assessment
        title: A first check
        bloom_level: understand
        prerequisites: [welcome]
        competencies: [first-skill]
        body: One question to check the welcome lesson.
        assessment:
          type: multiple_choice
          objectives: [Recall what the course is about]
          questions:
            - prompt: What is this course about?
              options: ["Something else", "What the welcome lesson said"]
              answer: 1
`;

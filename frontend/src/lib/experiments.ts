/**
 * Prompt experiments (issue 17): the create form's rules, how a result reads (a value with its 95% interval),
 * and the calls, on the typed API client. The server checks again (app/domain/experiments/schemas.py); these
 * checks only say early what it would refuse.
 */
import { api, must, type Problem, type Schemas } from "../api/client";

export type Variant = Schemas["Variant"];
export type HintPolicy = NonNullable<Variant["hint_policy"]>;
export type Experiment = Schemas["ExperimentOut"];
export type ExperimentStatus = Experiment["status"];
export type ExperimentIn = Schemas["ExperimentIn"];
export type ExperimentUpdate = Schemas["ExperimentUpdate"];
export type Interval = Schemas["Interval"];
export type Rate = Schemas["Rate"];
export type Arm = Schemas["Arm"];
export type Results = Schemas["ExperimentResults"];

export const MAX_VARIANTS = 5;
export const CONTROL = "control";
const SLUG = /^[a-z0-9][a-z0-9_-]{0,59}$/;

/** How the tutor gives hints in an arm (null on the wire = "ladder"). */
export const HINT_POLICIES: { policy: HintPolicy; label: string }[] = [
  { policy: "ladder", label: "Hint ladder: one authored hint per request (today)" },
  { policy: "attempt_first", label: "Attempt first: ask for the learner's own attempt before the first hint" },
];

/** One variant row of the form; `promptVersion` "" keeps the normal version assignment. */
export interface VariantRow {
  key: string;
  promptVersion: string;
  hintPolicy: HintPolicy;
  weight: string;
}

export interface ExperimentForm {
  key: string;
  description: string;
  courseId: string; // "" = all courses of the organisation
  rollout: string;
  variants: VariantRow[];
}

export type FormErrors = Partial<Record<"key" | "description" | "rollout" | "variants" | "courseId", string>> & {
  rows?: Record<number, string>;
};

/** A new variant row, keyed with the first free letter ("variant-a", "variant-b", …). */
export function newVariantRow(existing: readonly VariantRow[] = []): VariantRow {
  const taken = new Set(existing.map((r) => r.key.trim()));
  let letter = 0;
  while (taken.has(`variant-${String.fromCharCode(97 + letter)}`)) letter++;
  return { key: `variant-${String.fromCharCode(97 + letter)}`, promptVersion: "", hintPolicy: "ladder", weight: "1" };
}

export const EMPTY_FORM: ExperimentForm = { key: "", description: "", courseId: "", rollout: "10", variants: [newVariantRow()] };

/** A whole percentage 0..100, or the problem in words. */
export function checkRollout(raw: string): { value: number } | { error: string } {
  const text = raw.trim();
  if (text === "") return { error: "Required." };
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 100) return { error: "A whole number from 0 to 100." };
  return { value };
}

/** The request body, or the problems per field (in words). */
export function checkForm(form: ExperimentForm): { body: ExperimentIn } | { errors: FormErrors } {
  const errors: FormErrors = {};
  const key = form.key.trim();
  if (!key) errors.key = "Required.";
  else if (!SLUG.test(key)) errors.key = "Lower-case letters, digits, - and _ (at most 60), starting with a letter or digit.";
  if (form.description.length > 2000) errors.description = "At most 2000 characters.";
  const rollout = checkRollout(form.rollout);
  if ("error" in rollout) errors.rollout = rollout.error;
  if (form.variants.length < 1 || form.variants.length > MAX_VARIANTS) errors.variants = `From 1 to ${MAX_VARIANTS} variants.`;
  const rows: Record<number, string> = {};
  const seen = new Set<string>();
  const variants: Variant[] = form.variants.map((row, i) => {
    const vkey = row.key.trim();
    const weight = Number(row.weight.trim());
    if (!vkey) rows[i] = "The variant needs a key.";
    else if (!SLUG.test(vkey)) rows[i] = "Key: lower-case letters, digits, - and _.";
    else if (vkey === CONTROL) rows[i] = '"control" is the arm outside the rollout: choose another key.';
    else if (seen.has(vkey)) rows[i] = "Each variant needs its own key.";
    else if (!Number.isInteger(weight) || weight < 1 || weight > 1000) rows[i] = "Weight: a whole number from 1 to 1000.";
    seen.add(vkey);
    return { key: vkey, prompt_version: row.promptVersion || null, hint_policy: row.hintPolicy, weight };
  });
  if (Object.keys(rows).length) errors.rows = rows;
  if ("error" in rollout || Object.keys(errors).length) return { errors };
  return {
    body: {
      key,
      description: form.description.trim(),
      prompt: "tutor",
      course_id: form.courseId || null,
      rollout_percent: rollout.value,
      variants,
    },
  };
}

/** Field errors the server named (problem+json `errors[].pointer` like `#/key` or `#/variants/1/key`). */
export function serverFieldErrors(problem: Problem | undefined): FormErrors {
  const errors: FormErrors = {};
  for (const e of problem?.errors ?? []) {
    if (!e.detail) continue;
    const [field, index] = (e.pointer ?? "").replace(/^#\//, "").split("/");
    if (field === "key" || field === "description") errors[field] = e.detail;
    else if (field === "rollout_percent") errors.rollout = e.detail;
    else if (field === "course_id") errors.courseId = e.detail;
    else if (field === "variants" && index !== undefined && /^\d+$/.test(index)) errors.rows = { ...errors.rows, [Number(index)]: e.detail };
    else if (field === "variants") errors.variants = e.detail;
  }
  return errors;
}

/** The variant's arm in words, for the list: "prompt v2, attempt first, weight 1". */
export function describeVariant(variant: Variant): string {
  const prompt = variant.prompt_version ? `prompt ${variant.prompt_version}` : "the usual prompt version";
  const policy = variant.hint_policy === "attempt_first" ? "attempt first" : "hint ladder";
  return `${prompt}, ${policy}, weight ${variant.weight ?? 1}`;
}

export const STATUS_LABEL: Record<ExperimentStatus, string> = { draft: "Draft", running: "Running", stopped: "Stopped" };

const decimals = (v: number, digits: number) =>
  v.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A mean with its 95% interval: "4.2 (3.9–4.5)"; too few observations for an interval: "4.2 (n = 1)". */
export function formatInterval(interval: Interval | null | undefined, digits = 1): string {
  if (!interval) return "—";
  const mean = decimals(interval.mean, digits);
  if (interval.low === null || interval.high === null) return `${mean} (n = ${interval.n})`;
  return `${mean} (${decimals(interval.low, digits)}–${decimals(interval.high, digits)})`;
}

const pct = (v: number) => Math.round(v * 100);

/** A share with its 95% Wilson interval: "12% (8–17%)". */
export function formatRate(rate: Rate | null | undefined): string {
  if (!rate) return "—";
  return `${pct(rate.rate)}% (${pct(rate.low)}–${pct(rate.high)}%)`;
}

/** Whether any arm has a recorded turn (else the results are an empty state). */
export const hasTurns = (results: Results) => results.arms.some((a) => a.turns > 0);

/** What an admin may do with an experiment in its state (the server refuses the rest with a 409). */
export function allowedActions(status: ExperimentStatus): { start: boolean; stop: boolean; editRollout: boolean } {
  return { start: status === "draft", stop: status === "running", editRollout: status !== "stopped" };
}

const byId = (id: string) => ({ params: { path: { experiment_id: id } } });

export const experimentsApi = {
  list: () => must(api.GET("/v1/admin/experiments")),
  create: (body: ExperimentIn) => must(api.POST("/v1/admin/experiments", { body })),
  update: (id: string, body: ExperimentUpdate) =>
    must(api.PATCH("/v1/admin/experiments/{experiment_id}", { ...byId(id), body })),
  start: (id: string) => must(api.POST("/v1/admin/experiments/{experiment_id}/start", byId(id))),
  stop: (id: string) => must(api.POST("/v1/admin/experiments/{experiment_id}/stop", byId(id))),
  results: (id: string) => must(api.GET("/v1/admin/experiments/{experiment_id}/results", byId(id))),
};

export const promptsApi = {
  versions: () => must(api.GET("/v1/admin/prompts/{name}", { params: { path: { name: "tutor" } } })),
  compare: () => must(api.GET("/v1/admin/prompts/{name}/compare", { params: { path: { name: "tutor" } } })),
};

/** The org's courses for the target select (admins' list; the server clamps the page size). */
export const listCourses = () => must(api.GET("/v1/admin/courses", { params: { query: { limit: 100 } } }));

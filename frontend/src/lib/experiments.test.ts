import { describe, expect, it } from "vitest";

import {
  allowedActions,
  checkForm,
  checkRollout,
  describeVariant,
  EMPTY_FORM,
  formatInterval,
  formatRate,
  hasTurns,
  newVariantRow,
  serverFieldErrors,
  type ExperimentForm,
} from "./experiments";

const form: ExperimentForm = {
  key: " attempt-first ",
  description: " Ask first ",
  courseId: "",
  rollout: "25",
  variants: [
    { key: "ask", promptVersion: "", hintPolicy: "attempt_first", weight: "1" },
    { key: "v2", promptVersion: "socratic-2026-11-b", hintPolicy: "ladder", weight: "3" },
  ],
};

describe("checkForm", () => {
  it("builds the contract's body (org-wide: course_id null; no version: null)", () => {
    expect(checkForm(form)).toEqual({
      body: {
        key: "attempt-first",
        description: "Ask first",
        prompt: "tutor",
        course_id: null,
        rollout_percent: 25,
        variants: [
          { key: "ask", prompt_version: null, hint_policy: "attempt_first", weight: 1 },
          { key: "v2", prompt_version: "socratic-2026-11-b", hint_policy: "ladder", weight: 3 },
        ],
      },
    });
    const course = checkForm({ ...form, courseId: "c1" });
    expect("body" in course && course.body.course_id).toBe("c1");
  });

  it("names a missing key, a bad rollout and bad variant rows", () => {
    expect(checkForm({ ...EMPTY_FORM, rollout: "" })).toEqual({ errors: { key: "Required.", rollout: "Required." } });
    const checked = checkForm({
      ...form,
      key: "Bad Key",
      rollout: "101",
      variants: [
        { key: "control", promptVersion: "", hintPolicy: "ladder", weight: "1" },
        { key: "a", promptVersion: "", hintPolicy: "ladder", weight: "0" },
        { key: "a", promptVersion: "", hintPolicy: "ladder", weight: "1" },
        { key: "", promptVersion: "", hintPolicy: "ladder", weight: "1" },
      ],
    });
    expect(checked).toEqual({
      errors: {
        key: expect.stringContaining("Lower-case"),
        rollout: "A whole number from 0 to 100.",
        rows: {
          0: expect.stringContaining('"control"'),
          1: "Weight: a whole number from 1 to 1000.",
          2: "Each variant needs its own key.",
          3: "The variant needs a key.",
        },
      },
    });
  });

  it("allows one to five variants", () => {
    expect(checkForm({ ...form, variants: [] })).toEqual({ errors: { variants: "From 1 to 5 variants." } });
    const six = Array.from({ length: 6 }, (_, i) => ({ key: `v${i}`, promptVersion: "", hintPolicy: "ladder" as const, weight: "1" }));
    expect(checkForm({ ...form, variants: six })).toEqual({ errors: { variants: "From 1 to 5 variants." } });
  });
});

describe("checkRollout", () => {
  it("takes whole percentages from 0 to 100", () => {
    expect(checkRollout("0")).toEqual({ value: 0 });
    expect(checkRollout(" 100 ")).toEqual({ value: 100 });
    expect(checkRollout("12.5")).toEqual({ error: "A whole number from 0 to 100." });
    expect(checkRollout("-1")).toEqual({ error: "A whole number from 0 to 100." });
    expect(checkRollout("abc")).toEqual({ error: "A whole number from 0 to 100." });
  });
});

describe("newVariantRow", () => {
  it("keys a new row with the first free letter", () => {
    expect(newVariantRow().key).toBe("variant-a");
    expect(newVariantRow([newVariantRow(), { ...newVariantRow(), key: "variant-c" }]).key).toBe("variant-b");
  });
});

describe("serverFieldErrors", () => {
  it("maps the server's pointers to the form's fields and rows", () => {
    expect(
      serverFieldErrors({
        status: 422,
        errors: [
          { pointer: "#/key", detail: "taken" },
          { pointer: "#/rollout_percent", detail: "too big" },
          { pointer: "#/variants/1/prompt_version", detail: "unknown version" },
          { pointer: "#/variants", detail: "at most 5" },
          { pointer: "#/course_id", detail: "no such course" },
          { pointer: "#/other", detail: "ignored" },
        ],
      }),
    ).toEqual({
      key: "taken",
      rollout: "too big",
      rows: { 1: "unknown version" },
      variants: "at most 5",
      courseId: "no such course",
    });
    expect(serverFieldErrors(undefined)).toEqual({});
  });
});

describe("formatting results", () => {
  it("shows a mean with its 95% interval, or why there is none", () => {
    expect(formatInterval({ n: 40, mean: 4.21, low: 3.94, high: 4.48 })).toBe("4.2 (3.9–4.5)");
    expect(formatInterval({ n: 40, mean: 412.4, low: 380.2, high: 1444.6 }, 0)).toBe("412 (380–1,445)");
    expect(formatInterval({ n: 1, mean: 5, low: null, high: null })).toBe("5.0 (n = 1)");
    expect(formatInterval(null)).toBe("—");
  });

  it("shows a rate as a percentage with its Wilson interval", () => {
    expect(formatRate({ n: 100, count: 12, rate: 0.12, low: 0.0766, high: 0.1674 })).toBe("12% (8–17%)");
    expect(formatRate({ n: 3, count: 0, rate: 0, low: 0, high: 0.5615 })).toBe("0% (0–56%)");
    expect(formatRate(undefined)).toBe("—");
  });

  it("knows when no turn is recorded", () => {
    const arm = { variant: "control", users: 0, turns: 0, tokens_per_turn: null, rating: null, escalation_rate: null, guardrail_trigger_rate: null };
    expect(hasTurns({ experiment_id: "e", status: "running", confidence: 0.95, arms: [arm] })).toBe(false);
    expect(hasTurns({ experiment_id: "e", status: "running", confidence: 0.95, arms: [arm, { ...arm, variant: "a", turns: 2 }] })).toBe(true);
  });
});

describe("the experiment's state", () => {
  it("allows start only from draft, stop only while running, and no change once stopped", () => {
    expect(allowedActions("draft")).toEqual({ start: true, stop: false, editRollout: true });
    expect(allowedActions("running")).toEqual({ start: false, stop: true, editRollout: true });
    expect(allowedActions("stopped")).toEqual({ start: false, stop: false, editRollout: false });
  });

  it("describes a variant in words", () => {
    expect(describeVariant({ key: "a", prompt_version: null, hint_policy: null, weight: 1 })).toBe("the usual prompt version, hint ladder, weight 1");
    expect(describeVariant({ key: "b", prompt_version: "v2", hint_policy: "attempt_first", weight: 3 })).toBe("prompt v2, attempt first, weight 3");
  });
});

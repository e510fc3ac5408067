// @vitest-environment jsdom
import axe from "axe-core";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import Prompts from "./Prompts";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const me = { roles: ["admin"] as string[], org: "demo" };
vi.mock("../../lib/useSession", () => ({ useSession: () => ({ me }) }));

const COURSE = { id: "c0000000-0000-4000-8000-000000000001", title: "Python basics" };
const VERSIONS = [
  { name: "tutor", version: "socratic-2026-11-a", weight: 1, active: true, source: "file", system: "…" },
  { name: "tutor", version: "socratic-2026-11-b", weight: 1, active: true, source: "file", system: "…" },
  { name: "tutor", version: "retired", weight: 0, active: false, source: "org", system: "…" },
];
const COMPARE = {
  name: "tutor",
  variants: [
    {
      version: "socratic-2026-11-a",
      interactions: 42,
      input_tokens_avg: 900.5,
      output_tokens_avg: 120.2,
      first_token_ms_p50: 350,
      total_ms_p50: 1200,
      cost_usd_total: 0.0123,
      guardrail_triggers: 2,
      blocked: 1,
      ratings: 5,
      rating_avg: 4.2,
    },
  ],
};
const ARM = { users: 0, turns: 0, tokens_per_turn: null, rating: null, escalation_rate: null, guardrail_trigger_rate: null };

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const problem = (status: number, detail: string, errors?: unknown) =>
  json({ status, title: "Refused", detail, ...(errors ? { errors } : {}) }, status);

type Exp = Record<string, unknown> & { id: string; key: string; status: string; rollout_percent: number; variants: { key: string }[] };
let experiments: Exp[];
let withTurns: boolean;
let failList: boolean;
const calls: { method: string; path: string; body: string }[] = [];

/** A fake of the contract's server: enough state to follow an experiment from draft to stopped. */
async function server(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  const body = await request.clone().text();
  calls.push({ method: request.method, path, body });
  if (path === "/v1/admin/prompts/tutor") return json(VERSIONS);
  if (path === "/v1/admin/prompts/tutor/compare") return json(withTurns ? COMPARE : { name: "tutor", variants: [] });
  if (path === "/v1/admin/courses") return json({ items: [{ ...COURSE, is_published: true }], total: 1, limit: 100, offset: 0, next: null });
  if (path === "/v1/admin/experiments" && request.method === "GET") {
    return failList ? problem(503, "Try again") : json(experiments);
  }
  if (path === "/v1/admin/experiments" && request.method === "POST") {
    const data = JSON.parse(body);
    if (experiments.some((e) => e.key === data.key)) return problem(409, "Conflict", [{ pointer: "#/key", detail: "An experiment with this key exists." }]);
    const created: Exp = {
      id: `e${experiments.length + 1}`,
      ...data,
      course_title: data.course_id ? COURSE.title : null,
      status: "draft",
      started_at: null,
      stopped_at: null,
      created_at: "2026-12-01T08:00:00Z",
      updated_at: "2026-12-01T08:00:00Z",
    };
    experiments = [created, ...experiments];
    return json(created, 201);
  }
  const match = path.match(/^\/v1\/admin\/experiments\/([^/]+)(?:\/(start|stop|results))?$/);
  const found = match && experiments.find((e) => e.id === match[1]);
  if (!match || !found) return problem(404, "Not found");
  const stamp = (patch: Partial<Exp>) => Object.assign(found, patch, { updated_at: `2026-12-01T08:0${calls.length % 10}:00Z` });
  if (match[2] === "start") return found.status === "draft" ? json(stamp({ status: "running", started_at: "2026-12-01T08:01:00Z" })) : problem(409, "Not a draft");
  if (match[2] === "stop") return found.status === "running" ? json(stamp({ status: "stopped", stopped_at: "2026-12-01T09:00:00Z" })) : problem(409, "Not running");
  if (match[2] === "results") {
    const arms = [{ variant: "control", ...ARM }, ...found.variants.map((v) => ({ variant: v.key, ...ARM }))];
    if (withTurns) {
      arms[0] = { ...arms[0], users: 30, turns: 120, tokens_per_turn: { n: 120, mean: 1020.4, low: 990.1, high: 1050.7 }, rating: { n: 40, mean: 4.21, low: 3.94, high: 4.48 }, escalation_rate: { n: 120, count: 14, rate: 0.1167, low: 0.0708, high: 0.1862 }, guardrail_trigger_rate: { n: 120, count: 0, rate: 0, low: 0, high: 0.031 } } as never;
      arms[1] = { ...arms[1], users: 1, turns: 1, tokens_per_turn: { n: 1, mean: 800, low: null, high: null } } as never;
    }
    return json({ experiment_id: found.id, status: found.status, confidence: 0.95, arms });
  }
  if (request.method === "PATCH") {
    const data = JSON.parse(body);
    if (found.status === "stopped") return problem(409, "Stopped experiments are read-only");
    return json(stamp(data));
  }
  return json(found);
}

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  experiments = [];
  withTurns = false;
  failList = false;
  calls.length = 0;
  me.roles = ["admin"];
  vi.stubGlobal("fetch", vi.fn(server));
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
  await act(async () =>
    root.render(
      <MemoryRouter>
        <Prompts />
      </MemoryRouter>,
    ),
  );
}

const buttons = (text: string) => [...document.querySelectorAll("button")].filter((b) => b.textContent === text || b.textContent?.startsWith(`${text} `));
const button = (text: string) => buttons(text)[0]!;
const click = (el: HTMLElement) => act(async () => el.click());
const labelled = <T extends HTMLElement>(scope: ParentNode, label: string) => {
  const l = [...scope.querySelectorAll("label")].find((x) => x.textContent === label)!;
  return document.getElementById(l.htmlFor) as T;
};
async function type(input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, value: string) {
  const proto = input instanceof HTMLSelectElement ? HTMLSelectElement.prototype : input instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(proto, "value")!.set!.call(input, value);
    input.dispatchEvent(new Event(input instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
  });
}

describe("Prompts and experiments", () => {
  it("shows the versions, the comparison's empty state and no experiments, accessibly", async () => {
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=experiments-empty]")).not.toBeNull());
    await vi.waitFor(() => expect(container.querySelector("[data-testid=compare-empty]")).not.toBeNull());
    expect(container.querySelector("h1")!.textContent).toBe("Prompts and experiments");
    expect(container.querySelector("[data-testid=prompt-versions]")!.textContent).toContain("socratic-2026-11-b");
    // Only active versions are offered to a variant.
    const versionSelect = labelled<HTMLSelectElement>(container.querySelector("[data-testid=variant-row]")!, "Prompt version");
    expect([...versionSelect.options].map((o) => o.value)).toEqual(["", "socratic-2026-11-a", "socratic-2026-11-b"]);
    const courseSelect = labelled<HTMLSelectElement>(container, "Course");
    expect([...courseSelect.options].map((o) => o.textContent)).toEqual(["All courses", "Python basics"]);
    const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });

  it("shows the per-version comparison", async () => {
    withTurns = true;
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=compare-table]")).not.toBeNull());
    const row = container.querySelector("[data-testid=compare-table] tbody tr")!;
    expect(row.textContent).toContain("42");
    expect(row.textContent).toContain("4.20 (5 ratings)");
  });

  it("shows an error with a retry when the list fails", async () => {
    failList = true;
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=experiments] [role=alert]")?.textContent).toContain("Try again"));
  });

  it("is for admins only", async () => {
    me.roles = ["instructor"];
    await render();
    expect(container.textContent).toContain("For admins");
    expect(calls).toEqual([]);
  });

  it("checks the form, shows the server's refusal by field, and creates a draft", async () => {
    experiments = [
      { id: "old", key: "taken", description: "", prompt: "tutor", course_id: null, course_title: null, rollout_percent: 5, variants: [{ key: "a" }], status: "stopped", started_at: null, stopped_at: null, created_at: "", updated_at: "" },
    ];
    await render();
    const form = container.querySelector<HTMLFormElement>("[data-testid=experiment-form]")!;
    await vi.waitFor(() => expect(labelled<HTMLSelectElement>(form, "Course").options.length).toBe(2));
    await act(async () => form.requestSubmit());
    expect(form.textContent).toContain("Required.");
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);

    await type(labelled(form, "Experiment key"), "taken");
    await act(async () => form.requestSubmit());
    await vi.waitFor(() => expect(form.textContent).toContain("An experiment with this key exists."));
    expect(labelled(form, "Experiment key").getAttribute("aria-invalid")).toBe("true");

    await type(labelled(form, "Experiment key"), "attempt-first");
    await type(labelled(form, "Description (optional)"), "Ask for an attempt before the first hint");
    await type(labelled(form, "Course"), COURSE.id);
    await type(labelled(form, "Rollout (% of learners)"), "50");
    const first = form.querySelector<HTMLElement>("[data-testid=variant-row]")!;
    await type(labelled(first, "Variant key"), "ask-first");
    await type(labelled(first, "Hint policy"), "attempt_first");
    await click(button("Add a variant"));
    const second = form.querySelectorAll<HTMLElement>("[data-testid=variant-row]")[1]!;
    expect(labelled<HTMLInputElement>(second, "Variant key").value).toBe("variant-a");
    await type(labelled(second, "Prompt version"), "socratic-2026-11-b");
    await type(labelled(second, "Weight"), "2");
    await act(async () => form.requestSubmit());
    await vi.waitFor(() => expect(container.querySelector("[data-testid=experiment-attempt-first]")).not.toBeNull());
    const sent = JSON.parse(calls.filter((c) => c.method === "POST").at(-1)!.body);
    expect(sent).toEqual({
      key: "attempt-first",
      description: "Ask for an attempt before the first hint",
      prompt: "tutor",
      course_id: COURSE.id,
      rollout_percent: 50,
      variants: [
        { key: "ask-first", prompt_version: null, hint_policy: "attempt_first", weight: 1 },
        { key: "variant-a", prompt_version: "socratic-2026-11-b", hint_policy: "ladder", weight: 2 },
      ],
    });
    const item = container.querySelector("[data-testid=experiment-attempt-first]")!;
    expect(item.textContent).toContain("Draft");
    expect(item.textContent).toContain("Python basics");
    expect(item.textContent).toContain("prompt socratic-2026-11-b, hint ladder, weight 2");
    expect(container.querySelector("[data-testid=experiments-status]")!.textContent).toBe("Experiment attempt-first created as a draft.");
    // The form is empty again; the stopped experiment offers no change.
    expect(labelled<HTMLInputElement>(form, "Experiment key").value).toBe("");
    const stopped = container.querySelector("[data-testid=experiment-taken]")!;
    expect([...stopped.querySelectorAll("button")].map((b) => b.textContent)).toEqual(["Hide results of taken", "Refresh results of taken"]); // its results are open
  });

  it("starts with a confirmation, changes the rollout, shows results with intervals, and stops", async () => {
    experiments = [
      { id: "e1", key: "hints", description: "", prompt: "tutor", course_id: null, course_title: null, rollout_percent: 10, variants: [{ key: "ask", prompt_version: null, hint_policy: "attempt_first", weight: 1 } as never], status: "draft", started_at: null, stopped_at: null, created_at: "", updated_at: "u0" },
    ];
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=experiment-hints]")).not.toBeNull());
    const item = () => container.querySelector("[data-testid=experiment-hints]")!;

    // Start: the dialog first, nothing sent until confirmed.
    await click(button("Start"));
    const dialog = document.querySelector("dialog")!;
    expect(dialog.textContent).toContain("Start hints?");
    expect(dialog.textContent).toContain("10% of the learners in all courses");
    await click([...dialog.querySelectorAll("button")].find((b) => b.textContent === "Cancel")!);
    expect(calls.some((c) => c.path.endsWith("/start"))).toBe(false);
    await click(button("Start"));
    await click([...document.querySelector("dialog")!.querySelectorAll("button")].find((b) => b.textContent === "Start")!);
    await vi.waitFor(() => expect(item().textContent).toContain("Running"));
    expect(calls.filter((c) => c.path === "/v1/admin/experiments/e1/start")).toHaveLength(1);

    // Results open once started: no turns yet.
    expect(button("Hide results")).toBeDefined();
    await vi.waitFor(() => expect(item().querySelector("[data-testid=results-empty]")?.textContent).toContain("No turns recorded yet."));

    // Rollout: checked here, then sent.
    await click(button("Change rollout"));
    const rollout = labelled<HTMLInputElement>(item(), "Rollout (%)");
    await type(rollout, "150");
    await act(async () => item().querySelector<HTMLFormElement>("form")!.requestSubmit());
    expect(item().textContent).toContain("A whole number from 0 to 100.");
    await type(rollout, "40");
    withTurns = true;
    await act(async () => item().querySelector<HTMLFormElement>("form")!.requestSubmit());
    await vi.waitFor(() => expect(item().querySelector("[data-testid=rollout]")!.textContent).toBe("40% of learners"));
    expect(JSON.parse(calls.find((c) => c.method === "PATCH")!.body)).toEqual({ rollout_percent: 40 });

    // The results reload with the experiment: one row per arm, control first, values with their intervals.
    await vi.waitFor(() => expect(item().querySelector("[data-testid=experiment-results] table")).not.toBeNull());
    const rows = [...item().querySelectorAll("[data-testid=experiment-results] tbody tr")].map((r) =>
      [...r.children].map((c) => c.textContent),
    );
    expect(rows).toEqual([
      ["control (usual tutor)", "30", "120", "1,020 (990–1,051)", "4.2 (3.9–4.5)", "12% (7–19%)", "0% (0–3%)"],
      ["ask", "1", "1", "800 (n = 1)", "—", "—", "—"],
    ]);
    expect(item().textContent).toContain("Hint escalation is the share of an arm's tutor turns where the learner asked for a hint");

    // Stop: confirmed, then no more actions but the results.
    await click(button("Stop"));
    expect(document.querySelector("dialog")!.textContent).toContain("Stop hints?");
    await click([...document.querySelector("dialog")!.querySelectorAll("button")].find((b) => b.textContent === "Stop")!);
    await vi.waitFor(() => expect(item().textContent).toContain("Stopped"));
    expect(container.querySelector("[data-testid=experiments-status]")!.textContent).toBe("Experiment hints stopped.");
    expect([...item().querySelectorAll("button")].map((b) => b.textContent)).toEqual(["Hide results of hints", "Refresh results of hints"]);
  });

  it("shows the server's refusal of a start (another experiment runs on the target)", async () => {
    experiments = [
      { id: "e9", key: "late", description: "", prompt: "tutor", course_id: null, course_title: null, rollout_percent: 10, variants: [{ key: "a" }], status: "running", started_at: null, stopped_at: null, created_at: "", updated_at: "" },
    ];
    await render();
    await vi.waitFor(() => expect(container.querySelector("[data-testid=experiment-late]")).not.toBeNull());
    // The server says no (it stopped meanwhile elsewhere): the message is shown, the list reloaded.
    experiments[0]!.status = "draft";
    await click(button("Stop"));
    await click([...document.querySelector("dialog")!.querySelectorAll("button")].find((b) => b.textContent === "Stop")!);
    await vi.waitFor(() => expect(container.querySelector("[data-testid=experiments-status]")!.textContent).toBe("Not running"));
    expect(container.querySelector("[data-testid=experiments-status]")!.className).toContain("error-text");
  });
});

/**
 * Alerts (issue 17): the rule form's kinds with their units and limits (the server checks again), how an
 * alert and a spend projection read, and the calls, on the typed API client.
 */
import { api, must, type Schemas } from "../api/client";

export type AlertRule = Schemas["AlertRuleOut"];
export type Alert = Schemas["AlertOut"];
export type AlertKind = Schemas["AlertRuleIn"]["kind"];
export type Spend = Schemas["SpendView"];
export type SpendLine = Schemas["SpendLine"];

export interface KindInfo {
  kind: AlertKind;
  label: string;
  unit: string;
  min: number;
  max: number;
  step: number;
  example: number;
}

/** The four kinds, in the form's order, with what the threshold means (app/domain/alerts/services.py). */
export const KINDS: KindInfo[] = [
  { kind: "cost_burn_rate", label: "AI spend per hour rises to", unit: "US dollars an hour", min: 0.01, max: 1_000_000, step: 0.01, example: 5 },
  { kind: "rating_drop", label: "Learners' average rating falls below", unit: "of 5", min: 1, max: 5, step: 0.1, example: 3.5 },
  { kind: "guardrail_spike", label: "Guardrails act on at least", unit: "messages", min: 1, max: 1_000_000, step: 1, example: 20 },
  { kind: "grading_disagreement", label: "Reviewers override at least", unit: "of reviewed grades (0–1)", min: 0.01, max: 1, step: 0.01, example: 0.3 },
];

export const WINDOWS: { minutes: number; label: string }[] = [
  { minutes: 15, label: "15 minutes" },
  { minutes: 60, label: "1 hour" },
  { minutes: 360, label: "6 hours" },
  { minutes: 1440, label: "1 day" },
  { minutes: 10080, label: "1 week" },
];

export function kindInfo(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}

/** The threshold's problem in words, or null when the server would take it. */
export function checkThreshold(kind: AlertKind, raw: string): string | null {
  const info = kindInfo(kind);
  if (!info) return "Choose what to watch.";
  if (raw.trim() === "") return "Required.";
  const value = Number(raw);
  if (!Number.isFinite(value)) return "Must be a number.";
  if (value < info.min || value > info.max) return `Between ${info.min} and ${info.max.toLocaleString("en-GB")} (${info.unit}).`;
  return null;
}

/** One alert's state, for its badge: firing and unacknowledged needs someone. */
export function alertState(alert: Alert): { text: string; tone: "error" | "warn" | "ok" } {
  if (!alert.resolved_at && !alert.acknowledged_at) return { text: "Firing", tone: "error" };
  if (!alert.resolved_at) return { text: "Firing, acknowledged", tone: "warn" };
  return { text: alert.acknowledged_at ? "Resolved" : "Resolved, not acknowledged", tone: "ok" };
}

/** "92% of the budget by month end", or that there is no limit. */
export function projectionText(line: SpendLine): string {
  if (line.projected_share === null || line.projected_share === undefined) return "No token limit";
  const pct = Math.round(line.projected_share * 100);
  return pct > 100 ? `${pct}% of the budget: runs out before month end` : `${pct}% of the budget by month end`;
}

export const alertsApi = {
  rules: () => must(api.GET("/v1/admin/alerts/rules")),
  addRule: (body: Schemas["AlertRuleIn"]) => must(api.POST("/v1/admin/alerts/rules", { body })),
  setRule: (id: string, body: Schemas["AlertRuleUpdate"]) =>
    must(api.PATCH("/v1/admin/alerts/rules/{rule_id}", { params: { path: { rule_id: id } }, body })),
  removeRule: (id: string) => must(api.DELETE("/v1/admin/alerts/rules/{rule_id}", { params: { path: { rule_id: id } } })),
  alerts: (state: "all" | "open" | "unacknowledged", offset = 0) =>
    must(api.GET("/v1/alerts", { params: { query: { state, limit: 50, offset } } })),
  acknowledge: (id: string) => must(api.POST("/v1/alerts/{alert_id}/acknowledge", { params: { path: { alert_id: id } } })),
  spend: () => must(api.GET("/v1/admin/budgets/spend")),
};

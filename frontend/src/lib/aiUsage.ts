/** The AI usage dashboard's data (issue 17): the filters' choices, the /v1/admin/ai reads, and the pivot of
 * API series into the shape both the charts and their tables use. */
import { api, must, type Schemas } from "../api/client";

export type GroupBy = "model" | "course" | "prompt_version" | "org";
export type Bucket = "hour" | "day";

export const RANGES = [
  { id: "24h", label: "Last 24 hours", hours: 24 },
  { id: "7d", label: "Last 7 days", hours: 24 * 7 },
  { id: "30d", label: "Last 30 days", hours: 24 * 30 },
  { id: "90d", label: "Last 90 days", hours: 24 * 90 },
] as const;
export type RangeId = (typeof RANGES)[number]["id"];

export const GROUPS: { id: GroupBy; label: string }[] = [
  { id: "model", label: "Model" },
  { id: "course", label: "Course" },
  { id: "prompt_version", label: "Prompt version" },
  { id: "org", label: "Organisation" },
];

/** The server allows at most 31 days of hourly points. */
export function bucketAllowed(range: RangeId, bucket: Bucket): boolean {
  const hours = RANGES.find((r) => r.id === range)?.hours ?? 0;
  return bucket === "day" || hours <= 24 * 31;
}

export function window(range: RangeId, now = new Date()): { from: string; to: string } {
  const hours = RANGES.find((r) => r.id === range)?.hours ?? 24;
  return { from: new Date(now.getTime() - hours * 3600_000).toISOString(), to: now.toISOString() };
}

/** One chart's data: shared x values (bucket starts) and one line per series, null where it has no point. */
export interface Table {
  times: string[];
  series: { label: string; values: (number | null)[] }[];
}

export function pivot<P extends { t: string }>(
  groups: { key: string; points: P[] }[],
  value: (point: P) => number | null,
  label: (key: string) => string = (k) => k || "(none)",
): Table {
  const times = [...new Set(groups.flatMap((g) => g.points.map((p) => p.t)))].sort();
  const index = new Map(times.map((t, i) => [t, i]));
  return {
    times,
    series: groups.map((g) => {
      const values: (number | null)[] = times.map(() => null);
      for (const p of g.points) values[index.get(p.t)!] = value(p);
      return { label: label(g.key), values };
    }),
  };
}

export type Usage = Schemas["UsageOut"];
export type Guardrails = Schemas["GuardrailsOut"];
export type Providers = Schemas["ProvidersOut"];
export type Grading = Schemas["GradingOut"];
export type Ratings = Schemas["RatingsOut"];

export interface Dashboard {
  span: { from: string; to: string };
  usage: Usage;
  guardrails: Guardrails;
  providers: Providers;
  grading: Grading;
  ratings: Ratings;
}

export async function loadDashboard(range: RangeId, bucket: Bucket, groupBy: GroupBy): Promise<Dashboard> {
  const span = window(range);
  const query = { bucket, from: span.from, to: span.to };
  const [usage, guardrails, providers, grading, ratings] = await Promise.all([
    must(api.GET("/v1/admin/ai/usage", { params: { query: { ...query, group_by: groupBy } } })),
    must(api.GET("/v1/admin/ai/guardrails", { params: { query } })),
    must(api.GET("/v1/admin/ai/providers", { params: { query } })),
    must(api.GET("/v1/admin/ai/grading", { params: { query } })),
    must(api.GET("/v1/admin/ai/ratings", { params: { query: { from: span.from, to: span.to } } })),
  ]);
  return { span, usage, guardrails, providers, grading, ratings };
}

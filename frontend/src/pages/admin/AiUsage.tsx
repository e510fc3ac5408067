import { useId, useMemo, useState } from "react";
import { Link } from "react-router";

import { EmptyState, ErrorNote, Spinner } from "../../components/Status";
import { TimeChart } from "../../components/TimeChart";
import {
  bucketAllowed,
  GROUPS,
  loadDashboard,
  pivot,
  RANGES,
  type Bucket,
  type Dashboard,
  type GroupBy,
  type RangeId,
} from "../../lib/aiUsage";
import { useResource } from "../../lib/useResource";
import { isStaff } from "../../lib/roles";
import { useSession } from "../../lib/useSession";
import "../../styles/ai-usage.css";

const usd = (v: number) => `$${v.toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`;
const ms = (v: number) => `${Math.round(v).toLocaleString("en-GB")} ms`;
const percent = (v: number) => `${Math.round(v * 100)}%`;

/** AI usage (issue 17): what the tutor and the grader cost and how well they do, from the hourly rollup. */
export default function AiUsage() {
  const { me } = useSession();
  // Instructors and admins of the org (issue 17: instructors see the AI's cost and quality too).
  const isAdmin = isStaff(me?.roles);
  const [range, setRange] = useState<RangeId>("7d");
  const [bucket, setBucket] = useState<Bucket>("day");
  const [groupBy, setGroupBy] = useState<GroupBy>("model");
  const effectiveBucket: Bucket = bucketAllowed(range, bucket) ? bucket : "day";
  const data = useResource(
    () => (isAdmin ? loadDashboard(range, effectiveBucket, groupBy) : Promise.resolve(null)),
    [isAdmin, range, effectiveBucket, groupBy],
  );
  const ids = { range: useId(), bucket: useId(), group: useId() };

  if (!isAdmin) {
    return (
      <EmptyState title="For instructors and admins">
        <p>This page shows what the AI tutor and grader cost your organisation and how well they do.</p>
      </EmptyState>
    );
  }
  return (
    <section aria-labelledby="ai-usage-title" className="ai-usage">
      <div className="page-head">
        <h1 id="ai-usage-title">AI usage</h1>
        {me?.roles.includes("admin") && <Link to="/admin">Back to administration</Link>}
      </div>
      <p className="muted">
        Tokens, cost, time to first token, guardrails, the offline tutor and grading quality for {me?.org}. Figures are
        refreshed every minute; percentiles are estimates (within 25%).
      </p>
      <form className="toolbar ai-filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor={ids.range}>Range</label>
        <select id={ids.range} value={range} onChange={(e) => setRange(e.target.value as RangeId)}>
          {RANGES.map((r) => (
            <option key={r.id} value={r.id}>{r.label}</option>
          ))}
        </select>
        <label htmlFor={ids.bucket}>Points</label>
        <select id={ids.bucket} value={effectiveBucket} onChange={(e) => setBucket(e.target.value as Bucket)}>
          <option value="hour" disabled={!bucketAllowed(range, "hour")}>Hourly</option>
          <option value="day">Daily</option>
        </select>
        <label htmlFor={ids.group}>Group by</label>
        <select id={ids.group} value={groupBy} onChange={(e) => setGroupBy(e.target.value as GroupBy)}>
          {GROUPS.map((g) => (
            <option key={g.id} value={g.id}>{g.label}</option>
          ))}
        </select>
      </form>
      {data.loading && <Spinner label="Loading AI usage…" />}
      {data.error && <ErrorNote message={data.error} onRetry={data.reload} />}
      {data.data && !data.loading && <Charts data={data.data} />}
    </section>
  );
}

function Charts({ data }: { data: Dashboard }) {
  const usage = data.usage.series;
  const tables = useMemo(
    () => ({
      tokens: pivot(usage, (p) => p.input_tokens + p.output_tokens),
      cost: pivot(usage, (p) => p.cost_usd),
      p50: pivot(usage, (p) => p.ttft_p50_ms ?? null),
      p95: pivot(usage, (p) => p.ttft_p95_ms ?? null),
      turns: pivot(usage, (p) => p.turns),
      guardrails: pivot(data.guardrails.series, (p) => p.triggers),
      offline: pivot([{ key: "Offline tutor share", points: data.providers.points }], (p) => p.offline_share ?? null),
      grading: pivot(
        [
          { key: "Escalated to a person", points: data.grading.points.map((p) => ({ t: p.t, v: p.escalation_rate })) },
          { key: "Reviewer agreed with the AI", points: data.grading.points.map((p) => ({ t: p.t, v: p.agreement_rate })) },
        ],
        (p) => p.v ?? null,
      ),
    }),
    [data, usage],
  );
  if (usage.length === 0 && data.grading.points.length === 0) {
    return (
      <EmptyState title="No AI activity in this range">
        <p>When learners talk to the tutor or submit work for grading, their usage appears here within a minute or two.</p>
      </EmptyState>
    );
  }
  return (
    <div className="ai-charts">
      {data.usage.scope === "platform" && (
        <p className="card muted" role="note" data-testid="platform-scope">
          You operate this deployment: the token, cost, time-to-first-token and turn charts show every organisation,
          one series each. The charts below them show your own organisation.
        </p>
      )}
      <TimeChart title="Tokens (input + output)" table={tables.tokens} testId="chart-tokens" span={data.span} />
      <TimeChart title="Cost (USD)" table={tables.cost} format={usd} testId="chart-cost" span={data.span} />
      <TimeChart title="Time to first token, p50" table={tables.p50} format={ms} testId="chart-ttft-p50" span={data.span} />
      <TimeChart title="Time to first token, p95" table={tables.p95} format={ms} testId="chart-ttft-p95" span={data.span} />
      <TimeChart title="Turns" table={tables.turns} testId="chart-turns" span={data.span} />
      <TimeChart title="Guardrail triggers by policy" table={tables.guardrails} testId="chart-guardrails" span={data.span} />
      <TimeChart title="Offline tutor share of tutor turns" table={tables.offline} format={percent} testId="chart-offline" span={data.span} />
      <TimeChart title="Grading: escalations and agreement" table={tables.grading} format={percent} testId="chart-grading" span={data.span} />
      <RatingsTable data={data} />
    </div>
  );
}

function RatingsTable({ data }: { data: Dashboard }) {
  const rows = data.ratings.rows;
  return (
    <section className="card ai-chart" aria-labelledby="ratings-title" data-testid="ratings">
      <h3 id="ratings-title">Learner ratings by model and prompt version</h3>
      {rows.length === 0 ? (
        <p className="muted">No tutor turns in this range.</p>
      ) : (
        <div className="table-scroll">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Prompt version</th>
                <th scope="col">Turns</th>
                <th scope="col">Ratings</th>
                <th scope="col">Average (1–5)</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.model}:${r.prompt_version}`}>
                  <th scope="row">{r.model}</th>
                  <td>{r.prompt_version || "—"}</td>
                  <td>{r.turns.toLocaleString("en-GB")}</td>
                  <td>{r.ratings.toLocaleString("en-GB")}</td>
                  <td>{r.rating_avg === null || r.rating_avg === undefined ? "—" : r.rating_avg.toFixed(2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

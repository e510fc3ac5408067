import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { api, must } from "../../api/client";
import { EmptyState, ErrorNote, Spinner } from "../../components/Status";
import { Pager } from "../Catalog";
import { useResource } from "../../lib/useResource";
import { useNames } from "./names";
import { graderName, REVIEW_REASONS } from "./wording";
import "../../styles/teach.css";

const REASONS = REVIEW_REASONS;

/** "due in 3 h", "overdue by 20 min": the SLA timer, recomputed every 30 s. */
export function slaText(due: string, now: number): { text: string; overdue: boolean } {
  const minutes = Math.round((new Date(due).getTime() - now) / 60_000);
  const span = (m: number) => (Math.abs(m) >= 120 ? `${Math.round(Math.abs(m) / 60)} h` : `${Math.abs(m)} min`);
  return minutes >= 0 ? { text: `due in ${span(minutes)}`, overdue: false } : { text: `overdue by ${span(minutes)}`, overdue: true };
}

export function Queue() {
  const names = useNames();
  const [params, setParams] = useSearchParams();
  const reason = params.get("reason") ?? "";
  const offset = Number(params.get("offset") ?? "0") || 0;
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  const queue = useResource(
    () =>
      must(
        api.GET("/v1/review/queue", {
          params: { query: { reason: (reason || undefined) as never, limit: 12, offset } },
        }),
      ),
    [reason, offset],
  );

  return (
    <section aria-labelledby="queue-title">
      <div className="page-head">
        <h1 id="queue-title">Review queue</h1>
        <button type="button" className="button secondary small" onClick={queue.reload}>
          Refresh
        </button>
      </div>
      <div className="toolbar">
        <label>
          Reason{" "}
          <select value={reason} onChange={(e) => setParams(e.target.value ? { reason: e.target.value } : {})}>
            <option value="">All</option>
            {Object.entries(REASONS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <Link to="/teach/feed">Live feed</Link>
        <Link to="/teach/metrics">Metrics</Link>
      </div>
      {queue.loading && <Spinner label="Loading the queue…" />}
      {queue.error && <ErrorNote message={queue.error} onRetry={queue.reload} />}
      {queue.data && queue.data.items.length === 0 && (
        <EmptyState title="Nothing waiting">
          <p>Low-confidence AI grades, contested grades and quality samples appear here, most urgent first.</p>
        </EmptyState>
      )}
      {queue.data && queue.data.items.length > 0 && (
        <>
          <table className="queue">
            <thead>
              <tr>
                <th scope="col">Assessment</th>
                <th scope="col">Learner</th>
                <th scope="col">Why</th>
                <th scope="col">Grade under review</th>
                <th scope="col">SLA</th>
                <th scope="col">
                  <span className="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {queue.data.items.map((item) => {
                const sla = slaText(item.sla_due_at, now);
                return (
                  <tr key={item.id} data-submission={item.submission_id}>
                    <td>{item.item_title}</td>
                    <td>{names.person(item.learner_id)}</td>
                    <td>
                      <span className={`tag reason-${item.reason}`}>{REASONS[item.reason] ?? item.reason}</span>
                      {item.dispute_reason && (
                        <blockquote className="dispute-reason" aria-label="The learner's reason">
                          “{item.dispute_reason}”
                        </blockquote>
                      )}
                    </td>
                    <td>
                      {item.ai_score === null ? "none" : `${item.ai_score} / ${item.max_score}`}
                      {item.grader && <span className="muted small"> by {graderName(item.grader)}</span>}
                      {item.ai_confidence !== null && (item.grader === "ai_model" || item.grader === "offline_keywords") && (
                        <span className="muted small"> ({Math.round((item.ai_confidence ?? 0) * 100)}% sure)</span>
                      )}
                    </td>
                    <td className={sla.overdue ? "overdue" : ""}>{sla.text}</td>
                    <td>
                      <Link className="button small" to={`/teach/review/${item.id}`}>
                        {item.claimed_by ? "Open (claimed)" : "Review"}
                      </Link>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <Pager
            total={queue.data.total}
            offset={offset}
            onOffset={(o) => setParams({ ...(reason ? { reason } : {}), offset: String(o) })}
          />
        </>
      )}
    </section>
  );
}

import { useState } from "react";
import { useSearchParams } from "react-router";

import { api, must } from "../api/client";
import { session } from "../api/session";
import { EmptyState, ErrorNote, Spinner } from "../components/Status";
import { percent } from "../lib/orgAdmin";
import { useResource } from "../lib/useResource";
import "../styles/teach.css";

/** Learners' progress in one course (issue 17), for instructors and admins: funnel, deciles, at-risk learners. */
export default function Progress() {
  const [params, setParams] = useSearchParams();
  const courseId = params.get("course") ?? "";
  const [inactiveDays, setInactiveDays] = useState(14);
  const [failedAttempts, setFailedAttempts] = useState(3);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  // The catalogue lists the published courses; admins also reach unpublished ones from the Courses page.
  const courses = useResource(() => must(api.GET("/v1/courses", { params: { query: { limit: 100 } } })), []);
  const report = useResource(
    async () => (courseId ? must(api.GET("/v1/admin/courses/{course_id}/progress", { params: { path: { course_id: courseId } } })) : null),
    [courseId],
  );
  const atRisk = useResource(
    async () =>
      courseId
        ? must(
            api.GET("/v1/admin/courses/{course_id}/at-risk", {
              params: { path: { course_id: courseId }, query: { inactive_days: inactiveDays, failed_attempts: failedAttempts, limit: 50 } },
            }),
          )
        : null,
    [courseId, inactiveDays, failedAttempts],
  );

  async function download() {
    setDownloadError(null);
    // Fetched with the access token (a plain link would carry none), then handed to the browser as a file.
    const query = new URLSearchParams({ inactive_days: String(inactiveDays), failed_attempts: String(failedAttempts) });
    const response = await fetch(`/v1/admin/courses/${courseId}/at-risk.csv?${query}`, {
      headers: { Authorization: `Bearer ${await session.token()}` },
    });
    if (!response.ok) {
      setDownloadError("The export could not be prepared. Please try again.");
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `at-risk-${report.data?.title ?? courseId}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  }

  const funnel = report.data?.funnel;
  return (
    <section aria-labelledby="progress-title">
      <div className="page-head">
        <h1 id="progress-title">Learners' progress</h1>
      </div>
      <label>
        Course
        <select value={courseId} onChange={(e) => setParams(e.target.value ? { course: e.target.value } : {})}>
          <option value="">Choose a course…</option>
          {/* An unpublished course (opened from the Courses page) is not in the catalogue: keep it selectable. */}
          {courseId && courses.data && !courses.data.items.some((c) => c.id === courseId) && (
            <option value={courseId}>{report.data?.title ?? "Selected course"} (unpublished)</option>
          )}
          {courses.data?.items.map((c) => (
            <option key={c.id} value={c.id}>
              {c.title}
            </option>
          ))}
        </select>
      </label>
      {!courseId && (
        <EmptyState title="Choose a course">
          <p>See how far its learners have got, and who may need a hand.</p>
        </EmptyState>
      )}
      {report.loading && courseId && <Spinner label="Loading progress…" />}
      {report.error && <ErrorNote message={report.error} onRetry={report.reload} />}
      {report.data && funnel && (
        <>
          <section className="card" aria-labelledby="funnel-title">
            <h2 id="funnel-title">Completion funnel: {report.data.title}</h2>
            {funnel.enrolled === 0 ? (
              <p className="muted">Nobody has enrolled yet.</p>
            ) : (
              <table className="table" data-testid="funnel-table">
                <caption className="visually-hidden">Learners at each stage of {report.data.title}</caption>
                <thead>
                  <tr>
                    <th scope="col">Stage</th>
                    <th scope="col">Learners</th>
                    <th scope="col">Share of enrolled</th>
                  </tr>
                </thead>
                <tbody>
                  {(
                    [
                      ["Enrolled", funnel.enrolled],
                      ["Started", funnel.started],
                      ["Half way", funnel.half_way],
                      ["Completed", funnel.completed],
                    ] as const
                  ).map(([stage, n]) => (
                    <tr key={stage}>
                      <th scope="row">{stage}</th>
                      <td>{n}</td>
                      <td>
                        <span className="bar" style={{ inlineSize: `${percent(n, funnel.enrolled)}%` }} aria-hidden="true" />{" "}
                        {percent(n, funnel.enrolled)}%
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className="card" aria-labelledby="deciles-title">
            <h2 id="deciles-title">How far learners have got</h2>
            <table className="table">
              <caption className="visually-hidden">Learners by share of the course's {report.data.items_total} items done</caption>
              <thead>
                <tr>
                  <th scope="col">Items done</th>
                  <th scope="col">Learners</th>
                </tr>
              </thead>
              <tbody>
                {report.data.deciles.map((d) => (
                  <tr key={d.low}>
                    <th scope="row">
                      {d.low}–{d.high === 100 ? "100" : d.high - 1}%
                    </th>
                    <td>{d.learners}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section className="card" aria-labelledby="risk-title">
            <h2 id="risk-title">Learners at risk</h2>
            <form className="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="What counts as at risk">
              <label>
                Inactive for (days)
                <input type="number" min={1} max={3650} value={inactiveDays} onChange={(e) => setInactiveDays(Math.max(1, Number(e.target.value) || 1))} />
              </label>
              <label>
                Failed attempts
                <input type="number" min={1} max={1000} value={failedAttempts} onChange={(e) => setFailedAttempts(Math.max(1, Number(e.target.value) || 1))} />
              </label>
              <button type="button" className="button secondary" onClick={() => void download()}>
                Download CSV
              </button>
            </form>
            {downloadError && <ErrorNote message={downloadError} />}
            {atRisk.loading && <Spinner label="Finding learners at risk…" />}
            {atRisk.error && <ErrorNote message={atRisk.error} onRetry={atRisk.reload} />}
            {atRisk.data && atRisk.data.items.length === 0 && <p className="muted">Nobody is at risk by these rules.</p>}
            {atRisk.data && atRisk.data.items.length > 0 && (
              <table className="table" data-testid="at-risk-table">
                <caption className="visually-hidden">Learners inactive or failing repeatedly ({atRisk.data.total})</caption>
                <thead>
                  <tr>
                    <th scope="col">Learner</th>
                    <th scope="col">Last active</th>
                    <th scope="col">Failed attempts</th>
                    <th scope="col">Items done</th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {atRisk.data.items.map((l) => (
                    <tr key={l.user_id}>
                      <th scope="row">
                        {l.name} <span className="muted small">{l.email}</span>
                      </th>
                      <td>{l.inactive_days === 0 ? "Today" : `${l.inactive_days} days ago`}</td>
                      <td>{l.failed_attempts}</td>
                      <td>
                        {l.items_done} of {l.items_total}
                      </td>
                      <td>{l.reasons.map((r) => (r === "inactive" ? "Inactive" : "Failing")).join(", ")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </section>
  );
}

import { api, must } from "../api/client";
import { useResource } from "../lib/useResource";
import { ErrorNote, Spinner } from "./Status";

const DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short" });

function pct(value: number): number {
  return Math.round(value * 100);
}

/** Mastery per competency of one course, as horizontal bars. It is a real <table> (caption, column
 * headers, one row per competency) styled as a chart, so a screen reader reads the same figures as a
 * table: competency, estimate, evidence counted, last evidence. */
export function MasteryChart({ courseId, courseTitle }: { courseId: string; courseTitle: string }) {
  const mastery = useResource(
    () => must(api.GET("/v1/me/mastery", { params: { query: { course_id: courseId } } })),
    [courseId],
  );
  if (mastery.loading) return <Spinner label={`Loading your mastery of ${courseTitle}…`} />;
  if (mastery.error || !mastery.data) return <ErrorNote message={mastery.error ?? "Mastery couldn't be loaded."} onRetry={mastery.reload} />;
  const rows = mastery.data.items;
  return (
    <table className="mastery-chart" data-testid="mastery-chart" data-course={courseId}>
      <caption>{courseTitle}</caption>
      <thead>
        <tr>
          <th scope="col">Competency</th>
          <th scope="col">Mastery</th>
          <th scope="col">Evidence</th>
          <th scope="col">Last evidence</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.competency_id} data-slug={row.slug}>
            <th scope="row">{row.name}</th>
            <td className="mastery-bar-cell">
              <span className="mastery-bar" aria-hidden="true">
                <span className="mastery-fill" style={{ width: `${pct(row.mastery)}%` }} />
              </span>
              <span className="mastery-value">{pct(row.mastery)}%</span>
            </td>
            <td className="small muted">
              {row.attempts === 0 ? "none yet" : `${row.attempts} ${row.attempts === 1 ? "attempt" : "attempts"}`}
            </td>
            <td className="small muted">{row.last_evidence_at ? DAY.format(new Date(row.last_evidence_at)) : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

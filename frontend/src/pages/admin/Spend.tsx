import { ErrorNote, ProgressBar, Spinner } from "../../components/Status";
import { alertsApi, projectionText, type SpendLine } from "../../lib/alerts";
import { useResource } from "../../lib/useResource";

const usd = (v: number) => v.toLocaleString("en-GB", { style: "currency", currency: "USD" });
const num = (v: number) => v.toLocaleString("en-GB");

/** The budget page's spend (issue 17): this month so far and at this pace by month end, per org and course. */
export function SpendSection() {
  const spend = useResource(() => alertsApi.spend(), []);
  return (
    <section className="card" aria-labelledby="spend-title" data-testid="spend">
      <h2 id="spend-title">AI spend this month</h2>
      {spend.loading && !spend.data && <Spinner label="Loading this month's spend…" />}
      {spend.error && <ErrorNote message={spend.error} onRetry={spend.reload} />}
      {spend.data && (
        <>
          <p className="muted small">
            {Math.round(spend.data.elapsed * 100)}% of the month has gone. Projections assume the rest of the month goes
            at the same pace. Tokens are the tutor's (what the budgets limit); spend includes AI grading.
          </p>
          <table className="queue">
            <caption className="visually-hidden">Spend and month-end projection per scope</caption>
            <thead>
              <tr>
                <th scope="col">Scope</th>
                <th scope="col">Spend so far</th>
                <th scope="col">Projected spend</th>
                <th scope="col">Tutor tokens so far</th>
                <th scope="col">Projected against the budget</th>
              </tr>
            </thead>
            <tbody>
              {[spend.data.org, ...spend.data.courses].map((line: SpendLine) => (
                <tr key={`${line.scope}-${line.id}`}>
                  <th scope="row">{line.title}</th>
                  <td>{usd(line.cost_usd)}</td>
                  <td>{usd(line.projected_cost_usd)}</td>
                  <td>
                    {num(line.tokens_used)}
                    {line.limit_tokens ? ` of ${num(line.limit_tokens)}` : ""}
                  </td>
                  <td>
                    {line.projected_share !== null && line.projected_share !== undefined && (
                      <ProgressBar percent={Math.min(100, Math.round(line.projected_share * 100))} label={projectionText(line)} />
                    )}
                    <span className={line.projected_share && line.projected_share > 1 ? "warn-text small" : "small"}>{projectionText(line)}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {spend.data.courses.length === 0 && <p className="muted">No course has used the AI this month yet.</p>}
        </>
      )}
    </section>
  );
}

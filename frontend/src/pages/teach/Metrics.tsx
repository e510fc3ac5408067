import { useState } from "react";
import { Link } from "react-router";

import { api, describeProblem, must } from "../../api/client";
import { ErrorNote, Spinner } from "../../components/Status";
import { useResource } from "../../lib/useResource";

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`);
const num = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v.toFixed(2));

/** The export needs the access token, which a plain link cannot send: fetch it, then save the blob. */
async function downloadCorrections(): Promise<void> {
  const { data, error, response } = await api.GET("/v1/review/corrections.jsonl", { parseAs: "blob" });
  if (error !== undefined || !(data instanceof Blob)) {
    throw new Error(describeProblem({ status: response.status, ...((error ?? {}) as object) }, "The download failed."));
  }
  const url = URL.createObjectURL(data);
  const link = document.createElement("a");
  link.href = url;
  link.download = `corrections-${new Date().toISOString().slice(0, 10)}.jsonl`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function Metrics() {
  const metrics = useResource(() => must(api.GET("/v1/review/metrics")), []);
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  if (metrics.loading) return <Spinner label="Loading metrics…" />;
  if (metrics.error || !metrics.data) return <ErrorNote message={metrics.error ?? "No metrics"} onRetry={metrics.reload} />;
  const m = metrics.data;
  return (
    <section aria-labelledby="metrics-title">
      <div className="page-head">
        <h1 id="metrics-title">Grading quality</h1>
        <button
          type="button"
          className="button secondary small"
          disabled={downloading}
          onClick={() => {
            setDownloading(true);
            setDownloadError(null);
            downloadCorrections()
              .catch((err: unknown) => setDownloadError(err instanceof Error ? err.message : String(err)))
              .finally(() => setDownloading(false));
          }}
        >
          {downloading ? "Preparing the download…" : "Download corrections (JSONL)"}
        </button>
      </div>
      {downloadError && <ErrorNote message={downloadError} />}
      <p className="toolbar">
        <Link to="/teach/queue">Review queue</Link>
        <Link to="/teach/feed">Live feed</Link>
      </p>
      <dl className="stats">
        <div><dt>Waiting for review</dt><dd>{m.queue_depth}</dd></div>
        <div><dt>SLA breaches</dt><dd>{m.sla_breaches}</dd></div>
        <div><dt>Median time to review</dt><dd>{m.median_minutes_to_review === null ? "–" : `${Math.round(m.median_minutes_to_review)} min`}</dd></div>
        <div><dt>Escalation rate</dt><dd>{pct(m.escalation_rate)}</dd></div>
        <div><dt>AI–human exact agreement</dt><dd>{pct(m.exact_agreement)}</dd></div>
        <div><dt>Cohen's kappa (pass/fail)</dt><dd>{num(m.kappa)}</dd></div>
      </dl>
      {[["By assessment", m.by_assessment], ["By prompt version", m.by_prompt_version]].map(([title, rows]) => (
        <div key={title as string}>
          <h2>{title as string}</h2>
          {(rows as typeof m.by_assessment).length === 0 ? (
            <p className="muted">No human reviews yet: agreement appears once reviewers decide.</p>
          ) : (
            <table className="queue">
              <thead>
                <tr><th scope="col">{title === "By assessment" ? "Assessment" : "Version"}</th><th scope="col">Reviews</th><th scope="col">Exact agreement</th><th scope="col">Kappa</th></tr>
              </thead>
              <tbody>
                {(rows as typeof m.by_assessment).map((r) => (
                  <tr key={r.key}><td>{r.key}</td><td>{r.pairs}</td><td>{pct(r.exact_agreement)}</td><td>{num(r.kappa)}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ))}
    </section>
  );
}

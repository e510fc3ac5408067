import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { api, must } from "../../api/client";
import { ErrorNote, Spinner } from "../../components/Status";
import { renderMarkdown } from "../../lib/markdown";
import { useResource } from "../../lib/useResource";
import { useSession } from "../../lib/useSession";
import { slaText } from "./Queue";

interface Level {
  label: string;
  points: number;
  description: string;
}
interface Criterion {
  name: string;
  description: string;
  levels: Level[];
}

/** The grading view: the answer, the rubric and the AI's rationale side by side; accept or override. */
export function Review() {
  const { itemId: routeItemId, submissionId } = useParams();
  const { me } = useSession();
  const navigate = useNavigate();
  // Opened from the queue (by review item) or from the live feed (by submission).
  const detail = useResource(
    () =>
      submissionId
        ? must(api.GET("/v1/review/submissions/{submission_id}", { params: { path: { submission_id: submissionId } } }))
        : must(api.GET("/v1/review/items/{item_id}", { params: { path: { item_id: routeItemId ?? "" } } })),
    [routeItemId, submissionId],
  );
  const [score, setScore] = useState("");
  const [feedback, setFeedback] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (detail.loading) return <Spinner label="Loading the submission…" />;
  if (detail.error || !detail.data) return <ErrorNote message={detail.error ?? "Not found"} onRetry={detail.reload} />;
  const d = detail.data;
  const itemId = d.item.id;
  const mine = d.item.claimed_by === me?.user_id;
  const claimedByOther = d.item.claimed_by !== null && !mine;
  const rubric = ((d.spec.rubric as { criteria?: Criterion[] } | undefined)?.criteria ?? []) as Criterion[];

  async function claim() {
    setError(null);
    try {
      await must(api.POST("/v1/review/items/{item_id}/claim", { params: { path: { item_id: itemId } } }));
      detail.reload();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  async function decide(action: "accept" | "override", event?: FormEvent) {
    event?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body =
        action === "accept"
          ? { action, reason: "" }
          : { action, score: Number(score), feedback: feedback || undefined, reason };
      await must(api.POST("/v1/review/items/{item_id}/decision", { params: { path: { item_id: itemId } }, body }));
      navigate("/teach/queue", { state: { decided: true } });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const answer = (d.answer.text ?? d.answer.code ?? JSON.stringify(d.answer.choices ?? d.answer)) as string;
  return (
    <section aria-labelledby="review-title" className="review">
      <p className="crumbs">
        <Link to="/teach/queue">Review queue</Link> / {d.item.item_title}
      </p>
      <h1 id="review-title">{d.item.item_title}</h1>
      <p className="muted">
        {d.item.reason.replace("_", " ")} · {slaText(d.item.sla_due_at, Date.now()).text}
        {d.note && <> · grader note: {d.note}</>}
      </p>
      {d.item.status === "decided" && <p className="notice">Decided: {d.item.decision}.</p>}
      <div className="review-grid">
        <article className="card">
          <h2>Learner's answer</h2>
          {d.answer.code ? <pre className="code"><code>{answer}</code></pre> : <p className="answer-text">{answer}</p>}
          {d.prompt && (
            <details>
              <summary>The question</summary>
              <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(d.prompt) }} />
            </details>
          )}
        </article>
        <article className="card">
          <h2>Rubric</h2>
          {rubric.length === 0 && <p className="muted">This assessment is graded by its answer key or tests.</p>}
          {rubric.map((c) => (
            <div key={c.name} className="criterion">
              <h3>{c.name}</h3>
              <ul>
                {c.levels.map((l) => (
                  <li key={l.label}>
                    <strong>{l.points}</strong> {l.label}: {l.description}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </article>
        <article className="card">
          <h2>AI grade</h2>
          {d.item.ai_score === null ? (
            <p className="muted">No AI grade: the grader failed, so a person grades this one.</p>
          ) : (
            <p>
              <strong>
                {d.item.ai_score} / {d.item.max_score}
              </strong>{" "}
              <span className="muted">({Math.round((d.item.ai_confidence ?? 0) * 100)}% confidence, {d.ai_prompt_version})</span>
            </p>
          )}
          {d.ai_criteria.map((c) => (
            <p key={String(c.criterion)}>
              <strong>{String(c.criterion)}</strong>: {String(c.points)} / {String(c.max_points)}. {String(c.rationale)}
            </p>
          ))}
        </article>
      </div>
      {error && <ErrorNote message={error} />}
      {d.item.status === "open" && (
        <div className="card decide">
          {!mine ? (
            <p>
              {claimedByOther ? "Someone else is reviewing this right now. " : ""}
              <button type="button" className="button" onClick={claim} disabled={claimedByOther}>
                Claim to review
              </button>
            </p>
          ) : (
            <>
              <p className="muted small">
                Yours until {d.item.lease_expires_at ? new Date(d.item.lease_expires_at).toLocaleTimeString() : "?"}.
              </p>
              {d.item.ai_score !== null && (
                <button type="button" className="button" onClick={() => decide("accept")} disabled={busy}>
                  Accept the AI grade
                </button>
              )}
              <form className="override" onSubmit={(e) => decide("override", e)}>
                <h2>Or override</h2>
                <label>
                  Score (out of {d.item.max_score ?? "?"})
                  <input type="number" min={0} max={d.item.max_score ?? undefined} step="0.5" value={score} onChange={(e) => setScore(e.target.value)} required />
                </label>
                <label>
                  Feedback for the learner
                  <textarea rows={3} value={feedback} onChange={(e) => setFeedback(e.target.value)} />
                </label>
                <label>
                  Reason (kept in the audit log, used to improve the grader)
                  <textarea rows={2} value={reason} onChange={(e) => setReason(e.target.value)} required />
                </label>
                <button type="submit" className="button" disabled={busy || !score || !reason.trim()}>
                  Save override
                </button>
              </form>
            </>
          )}
        </div>
      )}
    </section>
  );
}

import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { api, must, type Schemas } from "../../api/client";
import { ErrorNote, Spinner } from "../../components/Status";
import { renderMarkdown } from "../../lib/markdown";
import { useResource } from "../../lib/useResource";
import { useSession } from "../../lib/useSession";
import { slaText } from "./Queue";
import { graderName, REVIEW_REASONS } from "./wording";
import "../../styles/teach.css";

/** A Markdown code fence longer than any run of backticks in the code, so the code cannot end it. */
function fenced(code: string, language: string): string {
  const longest = Math.max(0, ...(code.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${code}\n${fence}`;
}

interface Level {
  label: string;
  points: number;
  description: string;
}
interface Question {
  prompt: string;
  options?: string[];
  answer: number;
}
interface Criterion {
  name: string;
  description: string;
  levels: Level[];
}

type TestResult = Schemas["TestResultOut"];

/** One hidden test: passed or failed, what it checks (its input first, for a parametrised case) and,
 * for a failure, what the sandbox recorded. */
function renderTest(t: TestResult) {
  return (
    <li key={t.name} className={t.passed ? "pass" : "fail"} data-passed={t.passed}>
      <strong>
        <span aria-hidden="true">{t.passed ? "✓ " : "✗ "}</span>
        <span className="visually-hidden">{t.passed ? "Passed: " : "Failed: "}</span>
        {t.name}
      </strong>
      {t.checks && t.checks.length > 0 && (
        <ul className="checks" aria-label="What it checks">
          {t.checks.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ul>
      )}
      {!t.passed && (
        <dl className="test-failure">
          {t.params && (<><dt>Input</dt><dd><code>{t.params}</code></dd></>)}
          {t.assertion && (<><dt>Assertion</dt><dd><code>{t.assertion}</code></dd></>)}
          {t.expected && (<><dt>Expected</dt><dd><code>{t.expected}</code></dd></>)}
          {t.actual && (<><dt>Got</dt><dd><code>{t.actual}</code></dd></>)}
          {t.message && !t.actual && (<><dt>Error</dt><dd><code>{t.message}</code></dd></>)}
        </dl>
      )}
    </li>
  );
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

  const code = typeof d.answer.code === "string" ? d.answer.code : null;
  const text = typeof d.answer.text === "string" ? d.answer.text : null;
  const choices = Array.isArray(d.answer.choices) ? (d.answer.choices as number[]) : null;
  const questions = (d.spec.questions ?? []) as Question[];
  const grader = d.item.grader ?? null;
  const modelGraded = grader === "ai_model" || grader === "offline_keywords";
  const tests = d.tests ?? [];
  const failed = tests.filter((t) => !t.passed).length;
  return (
    <section aria-labelledby="review-title" className="review">
      <p className="crumbs">
        <Link to="/teach/queue">Review queue</Link> / {d.item.item_title}
      </p>
      <h1 id="review-title">{d.item.item_title}</h1>
      <p className="muted">
        {REVIEW_REASONS[d.item.reason] ?? d.item.reason} · {slaText(d.item.sla_due_at, Date.now()).text}
        {d.note && <> · grader note: {d.note}</>}
      </p>
      {d.item.dispute_reason && (
        <div className="card dispute" role="note" aria-labelledby="dispute-title">
          <h2 id="dispute-title">The learner's reason for contesting</h2>
          <blockquote>{d.item.dispute_reason}</blockquote>
        </div>
      )}
      {d.item.status === "decided" && <p className="notice">Decided: {d.item.decision === "override" ? "grade changed" : "grade confirmed"}.</p>}
      <div className={`review-grid${code !== null ? " with-code" : ""}`}>
        <article className="card answer-card">
          <h2>Learner's answer</h2>
          {code !== null && (
            <div
              className="markdown code-answer"
              role="region"
              tabIndex={0}
              aria-label="The learner's code"
              dangerouslySetInnerHTML={{ __html: renderMarkdown(fenced(code, "python")) }}
            />
          )}
          {text !== null && <p className="answer-text">{text}</p>}
          {choices !== null && (
            <ol className="choices-review">
              {choices.map((chosen, index) => {
                const q = questions[index];
                const right = q && chosen === q.answer;
                return (
                  <li key={index} className={right ? "right" : "wrong"}>
                    <span>{q?.prompt ?? `Question ${index + 1}`}</span>
                    <br />
                    <strong>{right ? "✓" : "✗"} {q?.options?.[chosen] ?? `option ${chosen + 1}`}</strong>
                    {!right && q?.options && <span className="muted"> (key: {q.options[q.answer]})</span>}
                  </li>
                );
              })}
            </ol>
          )}
          {d.prompt && (
            <details>
              <summary>The question</summary>
              <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(d.prompt) }} />
            </details>
          )}
        </article>
        {tests.length > 0 && (
          <article className="card tests-card">
            <h2>Tests</h2>
            <p className="muted">
              {tests.length - failed} of {tests.length} passed{failed ? `, ${failed} failed` : ""}.
            </p>
            {failed > 0 && (
              <ul className="test-results" aria-label="Failed tests">
                {tests.filter((t) => !t.passed).map((t) => renderTest(t))}
              </ul>
            )}
            {tests.length - failed > 0 && (
              <details className="passed-tests" open={tests.length <= 8}>
                <summary>{tests.length - failed} passed</summary>
                <ul className="test-results" aria-label="Passed tests">
                  {tests.filter((t) => t.passed).map((t) => renderTest(t))}
                </ul>
              </details>
            )}
          </article>
        )}
        {d.rubric_applied && rubric.length > 0 && (
          <article className="card">
            <h2>Rubric</h2>
            {code !== null && <p className="muted small">Used for style feedback only: the tests decide the score.</p>}
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
        )}
        <article className="card grade-card">
          <h2>Grade under review</h2>
          {d.item.ai_score === null ? (
            <p className="muted">No grade: the grader failed, so a person grades this one.</p>
          ) : (
            <>
              <p>
                <strong>
                  {d.item.ai_score} / {d.item.max_score}
                </strong>
              </p>
              <p className="grader" data-grader={grader ?? ""}>
                Graded by {graderName(grader)}
                {modelGraded && d.item.ai_confidence !== null && ` · ${Math.round((d.item.ai_confidence ?? 0) * 100)}% confidence`}
                {modelGraded && d.ai_prompt_version && <span className="muted small"> · prompt {d.ai_prompt_version}</span>}
              </p>
            </>
          )}
          {d.ai_criteria.map((c) => (
            <p key={String(c.criterion)}>
              <strong>{String(c.criterion)}</strong>: {String(c.points)} / {String(c.max_points)}. {String(c.rationale)}
            </p>
          ))}
          {d.ai_feedback && (
            <details>
              <summary>Feedback the learner sees</summary>
              <p className="answer-text">{d.ai_feedback}</p>
            </details>
          )}
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
                  Accept this grade
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

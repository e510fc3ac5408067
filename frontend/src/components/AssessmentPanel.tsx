import { lazy, Suspense, useEffect, useRef, useState, type FormEvent } from "react";

import { api, ApiError, must, type Schemas } from "../api/client";
import { session } from "../api/session";
import { renderInlineMarkdown, renderMarkdown } from "../lib/markdown";
import { followSubmission } from "../lib/submissionStream";
import { useResource } from "../lib/useResource";
import { ErrorNote, Spinner } from "./Status";
import "../styles/learner.css";

// CodeMirror is loaded only when a coding task is on screen (the initial bundle stays under its budget).
const CodeEditor = lazy(() => import("./CodeEditor").then((m) => ({ default: m.CodeEditor })));

type Submission = Schemas["SubmissionOut"];
type TestRun = Schemas["TestRunOut"];
interface Question {
  prompt: string;
  options: string[];
  points?: number;
}

const STATUS_WORDS: Record<string, string> = {
  queued: "Submitted: waiting for a grader…",
  grading: "Grading your answer…",
  failed: "Grading could not be completed.",
};

const WHEN = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

function newKey(): string {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Take an assessment: answer, submit, follow grading live, read feedback, contest a grade. */
export function AssessmentPanel({ itemId, onGraded }: { itemId: string; onGraded(): void }) {
  const assessment = useResource(
    () => must(api.GET("/v1/items/{item_id}/assessment", { params: { path: { item_id: itemId } } })),
    [itemId],
  );
  const [choices, setChoices] = useState<(number | null)[]>([]);
  const [text, setText] = useState("");
  const [submission, setSubmission] = useState<Submission | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [run, setRun] = useState<TestRun | null>(null);
  const [running, setRunning] = useState(false);
  const [runError, setRunError] = useState<string | null>(null);
  const idempotency = useRef(newKey()); // a double click or a retry after a timeout submits once
  const graded = useRef(onGraded);
  graded.current = onGraded;

  const spec = (assessment.data?.spec ?? {}) as Record<string, unknown>;
  const questions = (spec.questions ?? []) as Question[];
  const visibleTests = typeof spec.visible_tests === "string" ? spec.visible_tests : "";

  // Start from the starter, then show the latest earlier attempt (its answer too) if there is one.
  useEffect(() => {
    const id = assessment.data?.id;
    if (!id) return;
    setChoices(questions.map(() => null));
    setText(typeof spec.starter_code === "string" ? spec.starter_code : "");
    setSubmission(null);
    setRun(null);
    let live = true;
    void must(api.GET("/v1/assessments/{assessment_id}/submissions", { params: { path: { assessment_id: id } } }))
      .then((mine) => {
        const last = mine[0];
        if (!live || !last) return;
        setSubmission((current) => current ?? last);
        const answer = last.answer;
        if (answer?.choices && answer.choices.length === questions.length) setChoices(answer.choices);
        if (typeof answer?.text === "string") setText(answer.text);
        if (typeof answer?.code === "string") setText(answer.code);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [assessment.data?.id]);

  // Follow a submission being graded until it settles.
  useEffect(() => {
    if (!submission || !["queued", "grading"].includes(submission.status)) return;
    const timer = setTimeout(async () => {
      try {
        const next = await must(
          api.GET("/v1/submissions/{submission_id}", { params: { path: { submission_id: submission.id } } }),
        );
        setSubmission(next);
        if (next.status === "graded") graded.current();
      } catch (err) {
        setError(errorText(err));
      }
    }, 700);
    return () => clearTimeout(timer);
  }, [submission]);

  // While a person reviews it, listen for their decision instead of waiting for a reload.
  const reviewing = submission?.status === "in_review" ? submission.id : null;
  useEffect(() => {
    if (!reviewing) return;
    return followSubmission<Submission>({
      submissionId: reviewing,
      getToken: () => session.token(),
      refreshToken: () => session.refresh(),
      onUpdate: (next) => {
        setSubmission(next);
        if (next.status === "graded") graded.current();
      },
    });
  }, [reviewing]);

  if (assessment.loading) return <Spinner label="Loading the assessment…" />;
  if (assessment.error || !assessment.data) return <ErrorNote message={assessment.error ?? "No assessment here."} />;
  const kind = assessment.data.kind;
  const maxChars = typeof spec.max_chars === "number" ? spec.max_chars : 100_000;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body =
      kind === "multiple_choice" ? { choices: choices.map((c) => c ?? -1) } : kind === "code" ? { code: text } : { text };
    try {
      const accepted = await must(
        api.POST("/v1/assessments/{assessment_id}/submissions", {
          params: { path: { assessment_id: assessment.data!.id } },
          headers: { "Idempotency-Key": idempotency.current },
          body,
        }),
      );
      idempotency.current = newKey();
      if (accepted.submission) {
        // Exact-answer assessments are graded before the response: show the grade now, no polling.
        setSubmission(accepted.submission);
        if (accepted.submission.status === "graded") graded.current();
      } else {
        setSubmission({ ...(submission ?? ({} as Submission)), id: accepted.id, status: accepted.status, answer: body } as Submission);
      }
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function runTests() {
    setRunning(true);
    setRunError(null);
    try {
      setRun(
        await must(
          api.POST("/v1/assessments/{assessment_id}/test-runs", {
            params: { path: { assessment_id: assessment.data!.id } },
            body: { code: text },
          }),
        ),
      );
    } catch (err) {
      setRun(null);
      // 503 here means no sandbox on this server: say so plainly rather than "try again".
      setRunError(err instanceof ApiError && err.problem.detail ? err.problem.detail : errorText(err));
    } finally {
      setRunning(false);
    }
  }

  const unanswered = kind === "multiple_choice" ? choices.some((c) => c === null) : !text.trim();
  const pending = Boolean(submission && ["queued", "grading"].includes(submission.status));
  const inReview = submission?.status === "in_review";
  const marks = submission?.status === "graded" ? (submission.questions ?? []) : [];
  const submitted = submission?.answer?.choices ?? [];

  return (
    <section className="assessment card" aria-labelledby="assessment-title" data-kind={kind}>
      <h2 id="assessment-title">{kind === "multiple_choice" ? "Quiz" : kind === "code" ? "Coding task" : "Written answer"}</h2>
      <p className="muted small">
        Pass mark {Math.round(assessment.data.pass_mark * 100)}%. {assessment.data.graded ? "Graded." : "Practice: not graded."}
      </p>
      <form onSubmit={submit}>
        {typeof spec.prompt === "string" && (
          <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(spec.prompt) }} />
        )}
        {kind === "multiple_choice" &&
          questions.map((question, q) => {
            // A mark belongs to the answer it graded: once the learner changes that answer it no longer shows.
            const mark = marks.find((m) => m.question === q + 1);
            const shown = mark && submitted[q] === choices[q] ? mark : null;
            return (
              <fieldset key={q} className={`question${shown ? (shown.correct ? " marked-right" : " marked-wrong") : ""}`} data-testid={`question-${q + 1}`}>
                <legend>
                  {q + 1}. <span dangerouslySetInnerHTML={{ __html: renderInlineMarkdown(question.prompt) }} />
                </legend>
                {question.options.map((option, o) => (
                  <label key={o} className="option">
                    <input
                      type="radio"
                      name={`q${q}`}
                      checked={choices[q] === o}
                      onChange={() => setChoices((all) => all.map((c, i) => (i === q ? o : c)))}
                    />
                    <span dangerouslySetInnerHTML={{ __html: renderInlineMarkdown(option) }} />
                  </label>
                ))}
                {shown && (
                  <div className="question-mark" data-testid="question-mark" data-correct={shown.correct ? "true" : "false"}>
                    <p>
                      <strong>{shown.correct ? "✓ Correct" : "✗ Not quite"}</strong>{" "}
                      <span className="muted small">
                        ({shown.points} / {shown.max_points})
                      </span>
                    </p>
                    {shown.explanation && (
                      <div className="markdown small" dangerouslySetInnerHTML={{ __html: renderMarkdown(shown.explanation) }} />
                    )}
                  </div>
                )}
              </fieldset>
            );
          })}
        {kind === "code" && (
          <>
            <Suspense fallback={<Spinner label="Loading the code editor…" />}>
              <CodeEditor value={text} onChange={setText} label="Your code" maxLength={maxChars} />
            </Suspense>
            {visibleTests && (
              <details className="visible-tests">
                <summary>The visible tests you can run</summary>
                <pre className="code">
                  <code>{visibleTests}</code>
                </pre>
              </details>
            )}
          </>
        )}
        {kind === "short_answer" && (
          <label className="answer">
            <span className="visually-hidden">Your answer</span>
            <textarea rows={8} value={text} spellCheck maxLength={maxChars} onChange={(e) => setText(e.target.value)} />
          </label>
        )}
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <div className="assessment-actions">
          {kind === "code" && visibleTests && (
            <button type="button" className="button secondary" onClick={runTests} disabled={running || !text.trim()}>
              {running ? "Running the tests…" : "Run the visible tests"}
            </button>
          )}
          <button type="submit" className="button" disabled={busy || unanswered || pending || inReview}>
            {busy ? "Submitting…" : submission ? "Submit again" : "Submit"}
          </button>
          {inReview && <span className="muted small">You can submit again once the review is finished.</span>}
        </div>
      </form>
      {runError && (
        <p className="error-text" role="alert" data-testid="test-run-error">
          {runError}
        </p>
      )}
      {run && <TestRunResult run={run} />}
      {submission && <SubmissionResult submission={submission} onChange={setSubmission} />}
    </section>
  );
}

/** The visible tests' outcome, check50-style: each failure shows its input, what was expected and what came back. */
function TestRunResult({ run }: { run: TestRun }) {
  const all = run.status === "ok" && run.passed === run.total;
  return (
    <div className={`test-run ${all ? "all-passed" : "some-failed"}`} role="status" aria-live="polite" data-testid="test-run" data-status={run.status}>
      <p>
        <strong>
          {run.passed} of {run.total} visible tests passed
        </strong>
        {all ? ". The hidden tests check more cases when you submit." : "."}
      </p>
      {run.status !== "ok" && <p className="fail">The run stopped: {run.detail}</p>}
      <ul className="test-list">
        {run.tests.map((t) => (
          <li key={t.name} className={t.passed ? "test-pass" : "test-fail"} data-testid="test-outcome" data-passed={t.passed ? "true" : "false"}>
            <span aria-hidden="true">{t.passed ? "✓" : "✗"}</span> <code>{t.name}</code>
            {!t.passed && (
              <dl className="test-detail">
                {t.params && (
                  <>
                    <dt>Input</dt>
                    <dd>
                      <code>{t.params}</code>
                    </dd>
                  </>
                )}
                {t.assertion && (
                  <>
                    <dt>Check</dt>
                    <dd>
                      <code>{t.assertion}</code>
                    </dd>
                  </>
                )}
                {t.expected && (
                  <>
                    <dt>Expected</dt>
                    <dd>
                      <code>{t.expected}</code>
                    </dd>
                  </>
                )}
                {t.actual && (
                  <>
                    <dt>Actual</dt>
                    <dd>
                      <code>{t.actual}</code>
                    </dd>
                  </>
                )}
                {t.message && !(/^AssertionError:?\s*$/.test(t.message) && (t.expected || t.actual)) && (
                  <>
                    <dt>Message</dt>
                    <dd>{t.message}</dd>
                  </>
                )}
              </dl>
            )}
          </li>
        ))}
      </ul>
      {run.stdout && (
        <details>
          <summary>What your code printed</summary>
          <pre className="code">
            <code>{run.stdout}</code>
          </pre>
        </details>
      )}
    </div>
  );
}

function SubmissionResult({ submission, onChange }: { submission: Submission; onChange(s: Submission): void }) {
  const [reason, setReason] = useState("");
  const [disputing, setDisputing] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function disagree(event: FormEvent) {
    event.preventDefault();
    try {
      onChange(
        await must(
          api.POST("/v1/submissions/{submission_id}/disagree", {
            params: { path: { submission_id: submission.id } },
            body: { reason },
          }),
        ),
      );
      setDisputing(false);
    } catch (err) {
      setError(errorText(err));
    }
  }

  const fullMarks = submission.score != null && submission.max_score != null && submission.score >= submission.max_score;
  const due = submission.review_due_at ? new Date(submission.review_due_at) : null;

  return (
    <div className={`result status-${submission.status}`} role="status" aria-live="polite" data-testid="submission-result" data-status={submission.status}>
      {submission.status === "in_review" ? (
        <p>
          A person is reviewing this grade
          {due && (
            <>
              {" "}
              and aims to finish by <time dateTime={submission.review_due_at ?? undefined} data-testid="review-due">{WHEN.format(due)}</time>
            </>
          )}
          . The result will appear here as soon as they decide; you don't need to reload.
        </p>
      ) : submission.status !== "graded" ? (
        <p>
          {["queued", "grading"].includes(submission.status) && <span className="spinner" aria-hidden="true" />} {STATUS_WORDS[submission.status]}{" "}
          {submission.detail}
        </p>
      ) : (
        <>
          <p className={submission.passed ? "pass" : "fail"}>
            <strong>{submission.passed ? "Passed" : "Not passed yet"}</strong>: {submission.score} / {submission.max_score}
            <span className="muted small"> · marked by {submission.grader_label || (submission.graded_by === "human" ? "your instructor" : "the answer key")}</span>
          </p>
          {submission.questions?.length ? (
            <p className="small">
              {submission.questions.filter((q) => q.correct).length} of {submission.questions.length} questions right: each
              question shows its own mark and explanation above.
            </p>
          ) : (
            submission.feedback && <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(submission.feedback) }} />
          )}
          {submission.graded_by !== "human" && !fullMarks && !disputing && (
            <button type="button" className="button secondary small" onClick={() => setDisputing(true)}>
              I disagree with this grade
            </button>
          )}
          {disputing && (
            <form onSubmit={disagree} className="dispute">
              <label>
                What should a person look at?
                <textarea rows={3} value={reason} onChange={(e) => setReason(e.target.value)} minLength={3} required />
              </label>
              {error && <p className="error-text">{error}</p>}
              <button type="submit" className="button small" disabled={reason.trim().length < 3}>
                Ask for a review
              </button>
            </form>
          )}
        </>
      )}
    </div>
  );
}

import { useEffect, useRef, useState, type FormEvent } from "react";

import { api, must, type Schemas } from "../api/client";
import { renderMarkdown } from "../lib/markdown";
import { useResource } from "../lib/useResource";
import { ErrorNote, Spinner } from "./Status";

type Submission = Schemas["SubmissionOut"];
interface Question {
  prompt: string;
  options: string[];
  points?: number;
}

const STATUS_WORDS: Record<string, string> = {
  queued: "Submitted: waiting for a grader…",
  grading: "Grading your answer…",
  in_review: "A person is reviewing this grade. You'll see the result here when they finish.",
  failed: "Grading could not be completed.",
};

function newKey(): string {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
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
  const idempotency = useRef(newKey()); // a double click or a retry after a timeout submits once

  const spec = (assessment.data?.spec ?? {}) as Record<string, unknown>;
  const questions = (spec.questions ?? []) as Question[];
  useEffect(() => {
    setChoices(questions.map(() => null));
    setText(typeof spec.starter_code === "string" ? spec.starter_code : "");
    setSubmission(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [assessment.data?.id]);

  // Show the latest earlier attempt, if any.
  useEffect(() => {
    const id = assessment.data?.id;
    if (!id) return;
    void must(api.GET("/v1/assessments/{assessment_id}/submissions", { params: { path: { assessment_id: id } } }))
      .then((mine) => mine[0] && setSubmission((current) => current ?? mine[0]!))
      .catch(() => undefined);
  }, [assessment.data?.id]);

  // Follow a submission until it settles.
  useEffect(() => {
    if (!submission || !["queued", "grading"].includes(submission.status)) return;
    const timer = setTimeout(async () => {
      try {
        const next = await must(
          api.GET("/v1/submissions/{submission_id}", { params: { path: { submission_id: submission.id } } }),
        );
        setSubmission(next);
        if (next.status === "graded") onGraded();
      } catch (err) {
        setError(err instanceof Error ? err.message : String(err));
      }
    }, 700);
    return () => clearTimeout(timer);
  }, [submission, onGraded]);

  if (assessment.loading) return <Spinner label="Loading the assessment…" />;
  if (assessment.error || !assessment.data) return <ErrorNote message={assessment.error ?? "No assessment here."} />;
  const kind = assessment.data.kind;

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
      setSubmission({ ...(submission ?? ({} as Submission)), id: accepted.id, status: accepted.status } as Submission);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const unanswered = kind === "multiple_choice" ? choices.some((c) => c === null) : !text.trim();
  const pending = submission && ["queued", "grading"].includes(submission.status);

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
          questions.map((question, q) => (
            <fieldset key={q} className="question">
              <legend>
                {q + 1}. {question.prompt}
              </legend>
              {question.options.map((option, o) => (
                <label key={o} className="option">
                  <input
                    type="radio"
                    name={`q${q}`}
                    checked={choices[q] === o}
                    onChange={() => setChoices((all) => all.map((c, i) => (i === q ? o : c)))}
                  />
                  {option}
                </label>
              ))}
            </fieldset>
          ))}
        {kind !== "multiple_choice" && (
          <label className="answer">
            <span className="visually-hidden">Your answer</span>
            <textarea
              className={kind === "code" ? "code-input" : ""}
              rows={kind === "code" ? 14 : 8}
              value={text}
              spellCheck={kind !== "code"}
              maxLength={typeof spec.max_chars === "number" ? spec.max_chars : 100_000}
              onChange={(e) => setText(e.target.value)}
            />
          </label>
        )}
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button" disabled={busy || unanswered || Boolean(pending)}>
          {busy ? "Submitting…" : submission ? "Submit again" : "Submit"}
        </button>
      </form>
      {submission && <SubmissionResult submission={submission} onChange={setSubmission} />}
    </section>
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
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  return (
    <div className={`result status-${submission.status}`} role="status" aria-live="polite" data-testid="submission-result" data-status={submission.status}>
      {submission.status !== "graded" ? (
        <p>
          {["queued", "grading"].includes(submission.status) && <span className="spinner" aria-hidden="true" />} {STATUS_WORDS[submission.status]}{" "}
          {submission.detail}
        </p>
      ) : (
        <>
          <p className={submission.passed ? "pass" : "fail"}>
            <strong>{submission.passed ? "Passed" : "Not passed yet"}</strong>: {submission.score} / {submission.max_score}
            <span className="muted small"> · graded by {submission.graded_by === "human" ? "your instructor" : submission.graded_by === "auto" ? "the answer key" : "AI"}</span>
          </p>
          {submission.feedback && <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(submission.feedback) }} />}
          {submission.graded_by !== "human" && !disputing && (
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

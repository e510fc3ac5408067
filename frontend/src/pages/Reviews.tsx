import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";

import { api, must, type Schemas } from "../api/client";
import { EmptyState, ErrorNote, ProgressBar, Spinner } from "../components/Status";
import { renderInlineMarkdown, renderMarkdown } from "../lib/markdown";
import { useResource } from "../lib/useResource";
import "../styles/reviews.css";

type Due = Schemas["ReviewDue"];
type Outcome = Schemas["ReviewAnswerOut"];
type Rating = "again" | "hard" | "good" | "easy";

const DAY = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
const RATINGS: { value: Rating; label: string; hint: string }[] = [
  { value: "again", label: "Again", hint: "I didn't remember it" },
  { value: "hard", label: "Hard", hint: "I remembered with effort" },
  { value: "good", label: "Good", hint: "I remembered it" },
  { value: "easy", label: "Easy", hint: "I knew it at once" },
];
const SESSION_SIZE = 20;

function when(iso: string | null | undefined): string {
  return iso ? DAY.format(new Date(iso)) : "";
}

/** A review session: the questions due now, one at a time; answer, see the feedback, go on. */
export function Reviews() {
  // The session is the list due when it starts: answering reschedules a card, so it is not re-read.
  const session = useResource(
    () =>
      Promise.all([
        must(api.GET("/v1/me/reviews/due", { params: { query: { limit: SESSION_SIZE, offset: 0 } } })),
        must(api.GET("/v1/me/reviews/summary")),
      ]),
    [],
  );
  const [index, setIndex] = useState(0);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  const [page, summary] = session.data ?? [null, null];
  const items = page?.items ?? [];
  const current = items[index];
  const done = page !== null && index >= items.length;

  useEffect(() => {
    if (!outcome) heading.current?.focus();
  }, [index, outcome]);

  return (
    <section aria-labelledby="reviews-title" className="reviews">
      <div className="page-head">
        <h1 id="reviews-title">Reviews</h1>
        <p className="muted">Short questions on what you've already passed, spaced out so it sticks.</p>
      </div>
      {session.loading && <Spinner label="Loading your reviews…" />}
      {session.error && <ErrorNote message={session.error} onRetry={session.reload} />}
      {page && items.length === 0 && (
        <EmptyState title="Nothing to review">
          <p data-testid="next-review">
            {summary?.next_due_at ? <>Next review on {when(summary.next_due_at)}.</> : <>Pass an assessment and its reviews will appear here.</>}
          </p>
          <Link className="button secondary" to="/learning">
            Back to My learning
          </Link>
        </EmptyState>
      )}
      {current && (
        <div className="card review-card" data-testid="review-card">
          <p className="review-progress" aria-live="polite" data-testid="review-progress">
            {index + 1} of {items.length}
            {page && page.total > items.length && <span className="muted small"> · {page.total} due in all</span>}
          </p>
          <ProgressBar percent={Math.round((index / items.length) * 100)} label={`Review ${index + 1} of ${items.length}`} />
          <h2 ref={heading} tabIndex={-1} className="review-topic">
            {current.competency_name}
          </h2>
          <p className="muted small">
            {current.course_title} · from <em>{current.question.source_title}</em>
          </p>
          <Question
            key={`${current.card_id}:${current.question.ref}`}
            due={current}
            outcome={outcome}
            onAnswered={setOutcome}
            onNext={() => {
              setOutcome(null);
              setIndex((i) => i + 1);
            }}
            last={index + 1 === items.length}
          />
        </div>
      )}
      {done && items.length > 0 && (
        <EmptyState title="Session complete">
          <p data-testid="session-done">
            You reviewed {items.length} question{items.length === 1 ? "" : "s"}. Each one comes back when it's about to slip.
          </p>
          <Link className="button" to="/learning">
            Back to My learning
          </Link>
        </EmptyState>
      )}
    </section>
  );
}

function Question({
  due,
  outcome,
  onAnswered,
  onNext,
  last,
}: {
  due: Due;
  outcome: Outcome | null;
  onAnswered(outcome: Outcome): void;
  onNext(): void;
  last: boolean;
}) {
  const q = due.question;
  const [choice, setChoice] = useState<number | null>(null);
  const [revealed, setRevealed] = useState(false);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // One key per question shown: a retried send (flaky network, double click) reviews the card once.
  const [key] = useState(() => crypto.randomUUID());
  const next = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (outcome) next.current?.focus();
  }, [outcome]);

  async function send(body: { choice?: number; rating?: Rating }) {
    setSending(true);
    setError(null);
    try {
      const result = await must(
        api.POST("/v1/me/reviews/{card_id}/answers", {
          params: { path: { card_id: due.card_id }, header: { "Idempotency-Key": key } },
          body: { question_ref: q.ref, ...body },
        }),
      );
      onAnswered(result);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setSending(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (choice !== null) void send({ choice });
  }

  return (
    <>
      {q.kind === "multiple_choice" ? (
        <form onSubmit={submit}>
          <fieldset className="question" disabled={Boolean(outcome) || sending}>
            <legend dangerouslySetInnerHTML={{ __html: renderInlineMarkdown(q.prompt) }} />
            {q.options.map((option, o) => {
              const mark = outcome && outcome.answer === o ? " right" : outcome && choice === o && !outcome.correct ? " wrong" : "";
              return (
                <label key={o} className={`option${mark}`}>
                  <input type="radio" name="review-choice" checked={choice === o} onChange={() => setChoice(o)} />
                  <span dangerouslySetInnerHTML={{ __html: renderInlineMarkdown(option) }} />
                  {mark && <span className="option-mark">{mark === " right" ? "✓ the answer" : "✗ your choice"}</span>}
                </label>
              );
            })}
          </fieldset>
          {!outcome && (
            <button type="submit" className="button" disabled={choice === null || sending}>
              {sending ? "Checking…" : "Check answer"}
            </button>
          )}
        </form>
      ) : (
        <div>
          <div className="markdown review-prompt" dangerouslySetInnerHTML={{ __html: renderMarkdown(q.prompt) }} />
          {!revealed ? (
            <>
              <p className="muted small">Answer it in your head (or on paper), then compare.</p>
              <button type="button" className="button" onClick={() => setRevealed(true)}>
                Show answer
              </button>
            </>
          ) : (
            <>
              {q.guidance && <p className="review-guidance">{q.guidance}</p>}
              {!outcome && (
                <div role="group" aria-label="How well did you remember it?" className="rating-buttons">
                  {RATINGS.map((r) => (
                    <button key={r.value} type="button" className="button secondary" disabled={sending} onClick={() => void send({ rating: r.value })} title={r.hint}>
                      {r.label}
                      <span className="visually-hidden">: {r.hint}</span>
                    </button>
                  ))}
                </div>
              )}
            </>
          )}
        </div>
      )}
      {error && <ErrorNote message={error} />}
      {outcome && (
        <div className="review-feedback" data-testid="review-feedback" data-correct={outcome.correct === null ? "" : String(outcome.correct)} role="status">
          {outcome.correct === true && <p className="pass"><strong>✓ Correct</strong></p>}
          {outcome.correct === false && <p className="fail"><strong>✗ Not quite</strong> — the answer is highlighted.</p>}
          {outcome.correct === null && <p><strong>Rated {outcome.rating}.</strong></p>}
          {outcome.explanation && outcome.correct !== null && (
            <div className="markdown small" dangerouslySetInnerHTML={{ __html: renderMarkdown(outcome.explanation) }} />
          )}
          <p className="muted small" data-testid="next-due">Next review of this topic: {when(outcome.due_at)}</p>
          <button ref={next} type="button" className="button" onClick={onNext}>
            {last ? "Finish" : "Next question"}
          </button>
        </div>
      )}
    </>
  );
}

export default Reviews;

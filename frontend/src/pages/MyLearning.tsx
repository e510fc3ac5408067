import { Link } from "react-router";

import { api, must } from "../api/client";
import { DownloadMyData } from "../components/DownloadMyData";
import { MasteryChart } from "../components/MasteryChart";
import { EmptyState, ErrorNote, ProgressBar, Spinner } from "../components/Status";
import { useResource } from "../lib/useResource";
import { useSession } from "../lib/useSession";
import "../styles/learner.css";
import "../styles/reviews.css";

const WHEN = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short" });

function score(score: number | null | undefined, max: number | null | undefined): string {
  if (score == null || max == null) return "";
  return `${score} / ${max}`;
}

/** My learning: each course with where "Continue" goes and what is next, grades waiting for a person, recent grades. */
export function MyLearning() {
  const { me } = useSession();
  const overview = useResource(() => must(api.GET("/v1/learning")), []);
  const reviews = useResource(() => must(api.GET("/v1/me/reviews/summary")), []);
  const data = overview.data;

  return (
    <section aria-labelledby="learning-title">
      <div className="page-head">
        <h1 id="learning-title">My learning</h1>
        <p className="muted">Welcome back{me ? `, ${me.name.split(" ")[0]}` : ""}.</p>
      </div>
      {overview.loading && <Spinner label="Loading your courses…" />}
      {overview.error && <ErrorNote message={overview.error} onRetry={overview.reload} />}
      {data && data.courses.length === 0 && (
        <EmptyState title="You haven't enrolled in a course yet">
          <p>
            Pick one from the <Link to="/catalog">catalogue</Link>. Every lesson has a tutor beside it.
          </p>
        </EmptyState>
      )}
      {data && data.courses.length > 0 && (
        <div className="learning-grid">
          <ul className="card-grid" aria-label="Your courses">
            {data.courses.map((c) => {
              const resume = c.resume_item_id ? `/courses/${c.course_id}/items/${c.resume_item_id}` : `/courses/${c.course_id}`;
              const started = c.completed_items > 0 || Boolean(c.last_opened_at);
              return (
                <li key={c.enrollment_id} className="card" data-testid="course-card">
                  <h2>
                    <Link to={`/courses/${c.course_id}`}>{c.course_title}</Link>
                  </h2>
                  <ProgressBar percent={c.percent} label={`${c.course_title}: ${c.percent}% complete`} />
                  <p className="meta">
                    {c.completed_items} of {c.total_items} items done · {c.percent}%{c.status === "completed" && " · completed"}
                  </p>
                  {c.resume_item_title && (
                    <p className="resume-line small">
                      {started ? "You were on" : "Start with"}: <strong>{c.resume_item_title}</strong>
                    </p>
                  )}
                  {c.next_item_title && c.next_item_id !== c.resume_item_id && (
                    <p className="resume-line small muted" data-testid="next-item">
                      Next to unlock progress: <Link to={`/courses/${c.course_id}/items/${c.next_item_id}`}>{c.next_item_title}</Link>
                    </p>
                  )}
                  <Link className="button" to={resume} data-testid="continue">
                    {started ? "Continue" : "Start"}
                  </Link>
                </li>
              );
            })}
          </ul>
          <div className="learning-side">
            <section className="card" aria-labelledby="reviews-due-title" data-testid="reviews-due">
              <h2 id="reviews-due-title">Reviews due</h2>
              {reviews.data && reviews.data.due > 0 ? (
                <>
                  <p className="reviews-due-count" data-testid="reviews-due-count">
                    {reviews.data.due}
                  </p>
                  <p className="muted small">
                    Quick questions on what you've passed, before it slips. A few minutes a day keeps it fresh.
                  </p>
                  <Link className="button" to="/reviews">
                    Start review
                  </Link>
                </>
              ) : (
                <p className="muted small">
                  {reviews.data?.next_due_at
                    ? `Nothing to review — next review on ${WHEN.format(new Date(reviews.data.next_due_at))}.`
                    : "Pass an assessment and short reviews of it will appear here."}
                </p>
              )}
            </section>
            <section className="card" aria-labelledby="pending-title" data-testid="pending-reviews">
              <h2 id="pending-title">Waiting for a person</h2>
              {data.pending_reviews.length === 0 ? (
                <p className="muted small">No grades are being reviewed.</p>
              ) : (
                <ul className="learning-list">
                  {data.pending_reviews.map((p) => (
                    <li key={p.submission_id}>
                      <Link to={`/courses/${p.course_id}/items/${p.item_id}`}>{p.item_title}</Link>
                      <div className="muted small">
                        {p.course_title}
                        {p.review_due_at && <> · decision due by {WHEN.format(new Date(p.review_due_at))}</>}
                      </div>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section className="card" aria-labelledby="grades-title" data-testid="recent-grades">
              <h2 id="grades-title">Recent grades</h2>
              {data.recent_grades.length === 0 ? (
                <p className="muted small">Your grades will appear here.</p>
              ) : (
                <ul className="learning-list">
                  {data.recent_grades.map((g) => (
                    <li key={g.submission_id}>
                      <Link to={`/courses/${g.course_id}/items/${g.item_id}`}>{g.item_title}</Link>{" "}
                      <strong className={g.passed ? "pass" : "fail"}>{score(g.score, g.max_score)}</strong>
                      <div className="muted small">
                        {g.passed ? "Passed" : "Not passed yet"}
                        {g.graded_at && <> · {DAY.format(new Date(g.graded_at))}</>} · {g.course_title}
                      </div>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>
          <section className="card mastery" aria-labelledby="mastery-title" data-testid="mastery">
            <h2 id="mastery-title">Mastery</h2>
            <p className="muted small">
              How sure Lyceum is that you have mastered each skill, from your graded attempts and exercises. Some items open
              when a skill reaches a level.
            </p>
            {data.courses
              .filter((c) => c.status !== "withdrawn")
              .map((c) => (
                <MasteryChart key={c.course_id} courseId={c.course_id} courseTitle={c.course_title} />
              ))}
          </section>
        </div>
      )}
      <DownloadMyData />
    </section>
  );
}

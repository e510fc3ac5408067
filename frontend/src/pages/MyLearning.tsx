import { Link } from "react-router";

import { api, must } from "../api/client";
import { EmptyState, ErrorNote, ProgressBar, Spinner } from "../components/Status";
import { useResource } from "../lib/useResource";
import { useSession } from "../lib/useSession";

export function MyLearning() {
  const { me } = useSession();
  const enrollments = useResource(() => must(api.GET("/v1/enrollments", { params: { query: { limit: 100 } } })), []);

  return (
    <section aria-labelledby="learning-title">
      <div className="page-head">
        <h1 id="learning-title">My learning</h1>
        <p className="muted">Welcome back{me ? `, ${me.name.split(" ")[0]}` : ""}.</p>
      </div>
      {enrollments.loading && <Spinner label="Loading your courses…" />}
      {enrollments.error && <ErrorNote message={enrollments.error} onRetry={enrollments.reload} />}
      {enrollments.data && enrollments.data.items.length === 0 && (
        <EmptyState title="You haven't enrolled in a course yet">
          <p>
            Pick one from the <Link to="/catalog">catalogue</Link>. Every lesson has a tutor beside it.
          </p>
        </EmptyState>
      )}
      {enrollments.data && enrollments.data.items.length > 0 && (
        <ul className="card-grid">
          {enrollments.data.items.map((e) => (
            <li key={e.id} className="card">
              <h2>
                <Link to={`/courses/${e.course_id}`}>{e.course_title}</Link>
              </h2>
              <ProgressBar percent={e.percent} label={`${e.course_title}: ${e.percent}% complete`} />
              <p className="meta">
                {e.completed_items} of {e.total_items} items done · {e.percent}%
                {e.status === "completed" && " · completed"}
              </p>
              <Link className="button" to={`/courses/${e.course_id}`}>
                {e.completed_items ? "Continue" : "Start"}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

import { Link } from "react-router";

import { EmptyState, ErrorNote, Spinner } from "../../../components/Status";
import { useResource } from "../../../lib/useResource";
import { authoringApi, statusLabel } from "./model";
import "../../../styles/teach.css";

/** The organisation's authored courses with their status, and a way to start a new one. */
export function AuthoringList() {
  const list = useResource(() => authoringApi.list(), []);
  return (
    <section aria-labelledby="authoring-title">
      <div className="page-head">
        <h1 id="authoring-title">Authoring</h1>
        <Link className="button small" to="/teach/authoring/new">
          New course
        </Link>
      </div>
      {list.loading && <Spinner label="Loading your courses…" />}
      {list.error && <ErrorNote message={list.error} onRetry={list.reload} />}
      {list.data && list.data.length === 0 && (
        <EmptyState title="No courses written here yet">
          <p>Start a new course: you write it as YAML, preview it as a learner sees it, then publish it.</p>
        </EmptyState>
      )}
      {list.data && list.data.length > 0 && (
        <table className="table">
          <caption className="visually-hidden">Authored courses</caption>
          <thead>
            <tr>
              <th scope="col">Course</th>
              <th scope="col">Status</th>
              <th scope="col">Last saved</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((course) => (
              <tr key={course.id}>
                <td>
                  <Link to={`/teach/authoring/${course.id}`}>{course.title}</Link>
                  <div className="muted small">{course.slug}</div>
                </td>
                <td>
                  <span className={`tag status-${course.status}`}>{statusLabel(course)}</span>
                </td>
                <td>{new Date(course.updated_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

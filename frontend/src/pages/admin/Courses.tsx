import { useState } from "react";
import { Link } from "react-router";

import { api, must, type Schemas } from "../../api/client";
import { Dialog } from "../../components/Dialog";
import { EmptyState, ErrorNote, Spinner } from "../../components/Status";
import { percent } from "../../lib/orgAdmin";
import { useResource } from "../../lib/useResource";
import "../../styles/teach.css";

type Course = Schemas["AdminCourseOut"];
const PAGE = 20;

/** The organisation's courses (issue 17): visibility, enrolment counts, and each course's enrolments. */
export default function Courses() {
  const [offset, setOffset] = useState(0);
  const [confirming, setConfirming] = useState<Course | null>(null);
  const [opened, setOpened] = useState<Course | null>(null);
  const [error, setError] = useState<string | null>(null);
  const courses = useResource(() => must(api.GET("/v1/admin/courses", { params: { query: { limit: PAGE, offset } } })), [offset]);

  async function setVisible(course: Course, published: boolean) {
    setError(null);
    try {
      await must(
        api.PUT("/v1/admin/courses/{course_id}/visibility", {
          params: { path: { course_id: course.id } },
          body: { is_published: published },
        }),
      );
      setConfirming(null);
      courses.reload();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }

  return (
    <section aria-labelledby="courses-title">
      <div className="page-head">
        <h1 id="courses-title">Courses</h1>
      </div>
      <p className="muted">
        Unpublished courses leave the catalogue and can't be joined; learners already enrolled keep their access. Editing content is
        on the authoring pages.
      </p>
      {error && <ErrorNote message={error} />}
      {courses.loading && <Spinner label="Loading courses…" />}
      {courses.error && <ErrorNote message={courses.error} onRetry={courses.reload} />}
      {courses.data && courses.data.items.length === 0 && (
        <EmptyState title="No courses yet">
          <p>Courses your instructors publish appear here.</p>
        </EmptyState>
      )}
      {courses.data && courses.data.items.length > 0 && (
        <>
          <table className="table" data-testid="courses-table">
            <caption className="visually-hidden">Courses, their visibility and enrolments</caption>
            <thead>
              <tr>
                <th scope="col">Course</th>
                <th scope="col">Visibility</th>
                <th scope="col">Enrolled</th>
                <th scope="col">Active</th>
                <th scope="col">Completed</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {courses.data.items.map((course) => (
                <tr key={course.id}>
                  <th scope="row">{course.title}</th>
                  <td>{course.is_published ? "Published" : "Unpublished"}</td>
                  <td>{course.enrolled}</td>
                  <td>{course.active}</td>
                  <td>
                    {course.completed} ({percent(course.completed, course.enrolled)}%)
                  </td>
                  <td className="toolbar">
                    <button type="button" className="button secondary" onClick={() => setOpened(course)}>
                      Enrolments<span className="visually-hidden"> in {course.title}</span>
                    </button>
                    <Link to={`/progress?course=${course.id}`}>
                      Progress<span className="visually-hidden"> in {course.title}</span>
                    </Link>
                    {course.is_published ? (
                      <button type="button" className="button secondary" onClick={() => setConfirming(course)}>
                        Unpublish<span className="visually-hidden"> {course.title}</span>
                      </button>
                    ) : (
                      <button type="button" className="button secondary" onClick={() => void setVisible(course, true)}>
                        Publish again<span className="visually-hidden"> {course.title}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="toolbar" aria-label="Pages of courses">
            <button type="button" className="button secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Previous
            </button>
            <button type="button" className="button secondary" disabled={!courses.data.next} onClick={() => setOffset(offset + PAGE)}>
              Next
            </button>
          </nav>
        </>
      )}
      <Dialog open={confirming !== null} title={`Unpublish ${confirming?.title ?? ""}?`} onClose={() => setConfirming(null)}>
        <p>
          It leaves the catalogue and nobody new can enrol. The {confirming?.active ?? 0} learner(s) already enrolled keep their access and
          progress. You can publish it again at any time.
        </p>
        <p className="toolbar">
          <button type="button" className="button danger" data-autofocus onClick={() => confirming && void setVisible(confirming, false)}>
            Unpublish
          </button>
          <button type="button" className="button secondary" onClick={() => setConfirming(null)}>
            Cancel
          </button>
        </p>
      </Dialog>
      {opened && <Enrolments course={opened} onClose={() => setOpened(null)} />}
    </section>
  );
}

function Enrolments({ course, onClose }: { course: Course; onClose(): void }) {
  const [offset, setOffset] = useState(0);
  const list = useResource(
    () =>
      must(
        api.GET("/v1/admin/courses/{course_id}/enrollments", {
          params: { path: { course_id: course.id }, query: { limit: PAGE, offset } },
        }),
      ),
    [course.id, offset],
  );
  return (
    <section className="card" aria-labelledby="enrolments-title">
      <h2 id="enrolments-title">Enrolments in {course.title}</h2>
      <button type="button" className="button secondary" onClick={onClose}>
        Close
      </button>
      {list.loading && <Spinner label="Loading enrolments…" />}
      {list.error && <ErrorNote message={list.error} onRetry={list.reload} />}
      {list.data && list.data.items.length === 0 && <p className="muted">Nobody has enrolled yet.</p>}
      {list.data && list.data.items.length > 0 && (
        <>
          <table className="table">
            <caption className="visually-hidden">Learners enrolled in {course.title}</caption>
            <thead>
              <tr>
                <th scope="col">Learner</th>
                <th scope="col">Email</th>
                <th scope="col">Status</th>
                <th scope="col">Enrolled</th>
                <th scope="col">Items done</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((e) => (
                <tr key={e.id}>
                  <th scope="row">{e.name}</th>
                  <td>{e.email}</td>
                  <td>{e.status}</td>
                  <td>{new Date(e.enrolled_at).toLocaleDateString("en-GB")}</td>
                  <td>
                    {e.items_done} of {e.items_total}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="toolbar" aria-label="Pages of enrolments">
            <button type="button" className="button secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Previous
            </button>
            <span>
              {offset + 1}–{offset + list.data.items.length} of {list.data.total}
            </span>
            <button type="button" className="button secondary" disabled={!list.data.next} onClick={() => setOffset(offset + PAGE)}>
              Next
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

import { useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { api, must, type Schemas } from "../api/client";
import { EmptyState, ErrorNote, Spinner } from "../components/Status";
import { useResource } from "../lib/useResource";

const PAGE = 12;

export function Catalog() {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const offset = Number(params.get("offset") ?? "0") || 0;
  const [draft, setDraft] = useState(q);
  useEffect(() => setDraft(q), [q]);

  const courses = useResource(
    () => must(api.GET("/v1/courses", { params: { query: { q: q || undefined, limit: PAGE, offset } } })),
    [q, offset],
  );
  const enrollments = useResource(() => must(api.GET("/v1/enrollments", { params: { query: { limit: 100 } } })), []);
  const enrolled = new Set((enrollments.data?.items ?? []).map((e) => e.course_id));

  function search(event: React.FormEvent) {
    event.preventDefault();
    setParams(draft.trim() ? { q: draft.trim() } : {});
  }

  return (
    <section aria-labelledby="catalog-title">
      <div className="page-head">
        <h1 id="catalog-title">Course catalogue</h1>
        <form role="search" className="search" onSubmit={search}>
          <label className="visually-hidden" htmlFor="course-search">
            Search courses
          </label>
          <input
            id="course-search"
            type="search"
            placeholder="Search by title or topic"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
          <button type="submit" className="button">
            Search
          </button>
        </form>
      </div>
      {courses.loading && <Spinner label="Loading courses…" />}
      {courses.error && <ErrorNote message={courses.error} onRetry={courses.reload} />}
      {courses.data && courses.data.items.length === 0 && (
        <EmptyState title={q ? `No courses match “${q}”` : "No courses yet"}>
          <p>{q ? "Try a shorter or different word." : "Your organisation hasn't published any courses yet."}</p>
        </EmptyState>
      )}
      {courses.data && courses.data.items.length > 0 && (
        <>
          <ul className="card-grid">
            {courses.data.items.map((course) => (
              <CourseCard key={course.id} course={course} enrolled={enrolled.has(course.id)} />
            ))}
          </ul>
          <Pager total={courses.data.total} offset={offset} onOffset={(o) => setParams({ ...(q ? { q } : {}), offset: String(o) })} />
        </>
      )}
    </section>
  );
}

function CourseCard({ course, enrolled }: { course: Schemas["CourseSummary"]; enrolled: boolean }) {
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function enroll() {
    setBusy(true);
    setError(null);
    try {
      await must(api.POST("/v1/courses/{course_id}/enrollments", { params: { path: { course_id: course.id } } }));
      navigate(`/courses/${course.id}`);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  }

  return (
    <li className="card course-card">
      <h2>
        <Link to={`/courses/${course.id}`}>{course.title}</Link>
      </h2>
      <p>{course.summary}</p>
      <p className="meta">
        <span className="tag">{course.level}</span> · about {course.estimated_hours} h
        {course.tags.length > 0 && <> · {course.tags.join(", ")}</>}
      </p>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {enrolled ? (
        <Link className="button secondary" to={`/courses/${course.id}`} aria-label={`Continue ${course.title}`}>
          Continue
        </Link>
      ) : (
        <button type="button" className="button" onClick={enroll} disabled={busy} aria-label={`Enrol in ${course.title}`}>
          {busy ? "Enrolling…" : "Enrol"}
        </button>
      )}
    </li>
  );
}

export function Pager({ total, offset, onOffset }: { total: number; offset: number; onOffset(offset: number): void }) {
  if (total <= PAGE) return null;
  const page = Math.floor(offset / PAGE) + 1;
  const pages = Math.ceil(total / PAGE);
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="button secondary" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - PAGE))}>
        Previous
      </button>
      <span>
        Page {page} of {pages}
      </span>
      <button type="button" className="button secondary" disabled={page >= pages} onClick={() => onOffset(offset + PAGE)}>
        Next
      </button>
    </nav>
  );
}

import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { ApiError, api, must, type Schemas } from "../api/client";
import { ChatPanel } from "../components/ChatPanel";
import { ItemView } from "../components/ItemView";
import { PathwayMap } from "../components/PathwayMap";
import { RecommendedNext, RelatedList } from "../components/Recommendations";
import { ErrorNote, ProgressBar, Spinner } from "../components/Status";
import { renderMarkdown } from "../lib/markdown";
import { useResource } from "../lib/useResource";
import "../styles/player.css";
import { NotFound } from "./NotFound";

/** The course, or null when there is no such course here (404, or an id that is not one). */
async function loadCourse(courseId: string): Promise<Schemas["CourseDetail"] | null> {
  try {
    return await must(api.GET("/v1/courses/{course_id}", { params: { path: { course_id: courseId } } }));
  } catch (err) {
    if (err instanceof ApiError && [400, 404, 422].includes(err.status)) return null;
    throw err;
  }
}

export default function CoursePlayer() {
  const params = useParams();
  const courseId = params.courseId ?? "";
  const itemId = /^items\/([^/]+)/.exec(params["*"] ?? "")?.[1];
  const course = useResource(() => loadCourse(courseId), [courseId]);
  const [progress, setProgress] = useState<Schemas["CourseProgress"] | null>(null);
  const [enrolling, setEnrolling] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const loadProgress = useCallback(async () => {
    try {
      setProgress(await must(api.GET("/v1/courses/{course_id}/progress", { params: { path: { course_id: courseId } } })));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }, [courseId]);

  useEffect(() => {
    void loadProgress();
  }, [loadProgress]);

  useEffect(() => {
    if (course.data) document.title = `${course.data.title} · Lyceum`;
  }, [course.data]);

  async function enroll() {
    setEnrolling(true);
    setError(null);
    try {
      await must(api.POST("/v1/courses/{course_id}/enrollments", { params: { path: { course_id: courseId } } }));
      await loadProgress();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setEnrolling(false);
    }
  }

  if (course.loading) return <Spinner label="Loading the course…" />;
  if (course.error) return <ErrorNote message={course.error} onRetry={course.reload} />;
  if (!course.data) return <NotFound title="This course doesn't exist" />;
  const outline = course.data;
  const items = outline.modules.flatMap((m) => m.items);
  const current = items.find((i) => i.id === itemId);
  if (itemId && !current) return <NotFound title="This item isn't part of the course" />;
  const enrolled = progress?.enrolled ?? false;
  // Recommendations are asked again whenever progress moves (an item done unlocks the next ones).
  const progressVersion = `${progress?.completed_items ?? 0}`;

  return (
    <div className="player">
      <header className="player-head">
        <p className="crumbs">
          <Link to="/learning">My learning</Link> / <Link to={`/courses/${outline.id}`}>{outline.title}</Link>
        </p>
        <h1>{current ? current.title : outline.title}</h1>
        {progress && enrolled && (
          <div className="player-progress">
            <ProgressBar percent={progress.percent} label={`Course progress: ${progress.percent}%`} />
            <span className="muted small" data-testid="progress-text">
              {progress.completed_items} of {progress.total_items} done · {progress.percent}%
            </span>
          </div>
        )}
        {outline.latest_version != null && outline.latest_version > outline.version && (
          <p className="notice version-note" role="note" data-testid="version-note">
            You are on version {outline.version} of this course; your instructor can move you to the latest (version{" "}
            {outline.latest_version}).
          </p>
        )}
        {error && <ErrorNote message={error} />}
      </header>
      <div className="player-body">
        <div className="player-side">
          <PathwayMap course={outline} progress={progress} currentItemId={itemId} />
          {current && enrolled && <RelatedList itemId={current.id} courseId={outline.id} />}
        </div>
        <section className="player-main" aria-label={current ? current.title : "Course overview"}>
          {!enrolled && progress && (
            <div className="card enroll-cta">
              <p>Enrol to track your progress and unlock items as you go.</p>
              <button type="button" className="button" onClick={enroll} disabled={enrolling}>
                {enrolling ? "Enrolling…" : "Enrol in this course"}
              </button>
            </div>
          )}
          {!current && enrolled && <RecommendedNext courseId={outline.id} version={progressVersion} />}
          {current ? (
            <ItemView
              courseId={outline.id}
              itemId={current.id}
              progress={progress}
              items={items}
              onProgress={setProgress}
              onRefresh={loadProgress}
            />
          ) : (
            <CourseOverview course={outline} progress={progress} />
          )}
          {current && enrolled && <RecommendedNext courseId={outline.id} version={progressVersion} currentItemId={current.id} />}
        </section>
        <TutorDock>
          <ChatPanel courseId={outline.id} itemId={current?.id} itemTitle={current?.title} />
        </TutorDock>
      </div>
    </div>
  );
}

/**
 * Beside the lesson on wide screens; on a phone a drawer behind an "Ask the tutor" tab that stays in reach
 * (one tap) instead of sitting thousands of pixels below the lesson.
 */
function TutorDock({ children }: { children: ReactNode }) {
  const [open, setOpen] = useState(false);
  const toggle = useRef<HTMLButtonElement>(null);
  const close = useRef<HTMLButtonElement>(null);

  const wasOpen = useRef(false);

  useEffect(() => {
    if (!open) {
      // Closing hands focus back to the tab that opened the drawer (once it is shown again).
      if (wasOpen.current) toggle.current?.focus();
      wasOpen.current = false;
      return;
    }
    wasOpen.current = true;
    close.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);

  return (
    <>
      <button
        ref={toggle}
        type="button"
        className="button tutor-toggle"
        aria-expanded={open}
        aria-controls="tutor-dock"
        onClick={() => setOpen(true)}
        hidden={open}
      >
        Ask the tutor
      </button>
      <div id="tutor-dock" className={`tutor-dock${open ? " open" : ""}`} data-testid="tutor-dock">
        <div className="tutor-dock-bar">
          <button
            ref={close}
            type="button"
            className="button secondary small"
            onClick={() => setOpen(false)}
          >
            Back to the lesson
          </button>
        </div>
        {children}
      </div>
    </>
  );
}

function CourseOverview({ course, progress }: { course: Schemas["CourseDetail"]; progress: Schemas["CourseProgress"] | null }) {
  const next = course.modules.flatMap((m) => m.items).find((i) => i.id === progress?.next_item_id);
  return (
    <article className="card">
      <p className="meta">
        <span className="tag">{course.level}</span> · about {course.estimated_hours} h
      </p>
      <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(course.description || course.summary) }} />
      {course.competencies.length > 0 && (
        <>
          <h2>What you'll be able to do</h2>
          <ul>
            {course.competencies.map((c) => (
              <li key={c.id}>
                <strong>{c.name}</strong>: {c.description}
              </li>
            ))}
          </ul>
        </>
      )}
      {next && (
        <Link className="button" to={`/courses/${course.id}/items/${next.id}`}>
          {progress?.completed_items ? "Continue" : "Start"}: {next.title}
        </Link>
      )}
      {progress && progress.enrolled && progress.percent === 100 && <p className="notice">You've completed this course. Well done!</p>}
    </article>
  );
}

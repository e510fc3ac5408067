import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useParams } from "react-router";

import { api, must, type Schemas } from "../../api/client";
import { EmptyState, ErrorNote, Spinner } from "../../components/Status";

type Settings = Schemas["DeepLinkSettings"];
type Outline = Schemas["CourseDetail"];
type Picked = { kind: "course" | "item"; id: string };

const OUTLINE_LIMIT = 50; // courses whose outlines the picker loads (an org's catalogue, not a library)

const key = (p: Picked) => `${p.kind}:${p.id}`;

function matches(query: string, ...texts: string[]): boolean {
  const q = query.trim().toLowerCase();
  return !q || texts.some((t) => t.toLowerCase().includes(q));
}

/**
 * `/lti/deep-link/:id`: an instructor adding Lyceum content to an LMS course (Deep Linking 2.0). Browse or
 * search the org's courses, their modules and items; choose one or several (as the LMS allows); the signed
 * answer goes back to the LMS in a real form post.
 */
export default function DeepLinkPicker() {
  const { id = "" } = useParams();
  const [settings, setSettings] = useState<Settings | null>(null);
  const [outlines, setOutlines] = useState<Outline[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [picked, setPicked] = useState<Picked[]>([]);
  const [sending, setSending] = useState(false);
  const [answer, setAnswer] = useState<Schemas["DeepLinkResponseOut"] | null>(null);
  const form = useRef<HTMLFormElement>(null);

  async function load() {
    setError(null);
    try {
      const [found, courses] = await Promise.all([
        must(api.GET("/v1/lti/deep-linking/{dl_id}", { params: { path: { dl_id: id } } })),
        must(api.GET("/v1/courses", { params: { query: { limit: OUTLINE_LIMIT } } })),
      ]);
      setSettings(found);
      const details = await Promise.all(
        courses.items.map((c) => must(api.GET("/v1/courses/{course_id}", { params: { path: { course_id: c.id } } }))),
      );
      setOutlines(details);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }

  useEffect(() => {
    void load();
  }, [id]);

  // The platform receives the answer by a form post from this page (the spec's auto-submitted form).
  useEffect(() => {
    if (answer) form.current?.submit();
  }, [answer]);

  const multiple = settings?.accept_multiple ?? false;
  const chosen = useMemo(() => new Set(picked.map(key)), [picked]);

  function toggle(p: Picked) {
    setPicked((current) => {
      if (chosen.has(key(p))) return current.filter((c) => key(c) !== key(p));
      return multiple ? [...current, p] : [p];
    });
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!picked.length) return;
    setSending(true);
    setError(null);
    try {
      setAnswer(
        await must(
          api.POST("/v1/lti/deep-linking/{dl_id}/response", { params: { path: { dl_id: id } }, body: { items: picked } }),
        ),
      );
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
      setSending(false);
    }
  }

  if (error && !settings) {
    return (
      <div className="lti-picker">
        <h1>Add Lyceum content</h1>
        <ErrorNote message={error} onRetry={load} />
      </div>
    );
  }
  if (!settings || !outlines) return <Spinner label="Loading your courses…" />;

  if (answer) {
    return (
      <div className="lti-picker">
        <h1>Sending your choice to {settings.platform.name}…</h1>
        <form ref={form} method="post" action={answer.return_url} data-testid="deep-link-return">
          <input type="hidden" name="JWT" value={answer.jwt} />
          <p>If nothing happens, continue by hand:</p>
          <button type="submit" className="button">
            Return to {settings.platform.name}
          </button>
        </form>
      </div>
    );
  }

  if (!settings.accepts_resource_links) {
    return (
      <div className="lti-picker">
        <h1>Add Lyceum content</h1>
        <ErrorNote message={`${settings.platform.name} did not ask for links to activities, which is what Lyceum offers. Add Lyceum from the LMS's external tool or activity menu instead.`} />
      </div>
    );
  }

  const visible = outlines
    .map((course) => {
      const courseHit = matches(query, course.title, course.summary);
      const modules = course.modules
        .map((m) => ({ ...m, items: m.items.filter((i) => courseHit || matches(query, i.title, m.title, i.kind)) }))
        .filter((m) => m.items.length > 0);
      return { course, courseHit, modules };
    })
    .filter((c) => c.courseHit || c.modules.length > 0);
  const inputType = multiple ? "checkbox" : "radio";

  return (
    <div className="lti-picker">
      <h1>Add Lyceum content to {settings.platform.name}</h1>
      <p className="muted">
        {multiple ? "Choose one or more courses or items." : "Choose one course or item."} Assessments come with a
        gradebook column.
      </p>
      <div className="lti-picker-search">
        <label htmlFor="lti-picker-query">Search courses, modules and items</label>
        <input
          id="lti-picker-query"
          type="search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="e.g. loops, quiz"
        />
      </div>
      <form onSubmit={submit} aria-describedby="lti-picker-count">
        {visible.length === 0 && (
          <EmptyState title={outlines.length ? "Nothing matches your search" : "Your organisation has no courses yet"} />
        )}
        {visible.map(({ course, modules }) => (
          <fieldset key={course.id} className="card lti-course">
            <legend>{course.title}</legend>
            <label className="lti-choice">
              <input
                type={inputType}
                name="lti-choice"
                value={`course:${course.id}`}
                checked={chosen.has(`course:${course.id}`)}
                onChange={() => toggle({ kind: "course", id: course.id })}
              />
              <span>
                The whole course <span className="muted small">(opens its overview)</span>
              </span>
            </label>
            {modules.map((module) => (
              <fieldset key={module.id} className="lti-module">
                <legend>{module.title}</legend>
                {module.items.map((item) => (
                  <label key={item.id} className="lti-choice">
                    <input
                      type={inputType}
                      name="lti-choice"
                      value={`item:${item.id}`}
                      checked={chosen.has(`item:${item.id}`)}
                      onChange={() => toggle({ kind: "item", id: item.id })}
                    />
                    <span>
                      {item.title} <span className="tag">{item.kind}</span>
                      {item.kind === "assessment" && <span className="muted small"> graded</span>}
                    </span>
                  </label>
                ))}
              </fieldset>
            ))}
          </fieldset>
        ))}
        {error && <ErrorNote message={error} />}
        <div className="lti-picker-actions">
          <span id="lti-picker-count" className="muted" aria-live="polite">
            {picked.length === 0 ? "Nothing chosen yet" : `${picked.length} chosen`}
          </span>
          <button type="submit" className="button" disabled={!picked.length || sending}>
            {sending ? "Adding…" : `Add to ${settings.platform.name}`}
          </button>
        </div>
      </form>
    </div>
  );
}

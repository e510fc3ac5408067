import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { Link, useLocation } from "react-router";

import { api, must, type Schemas } from "../api/client";
import { snippetSegments } from "../lib/highlight";

const DEBOUNCE_MS = 300;
const LIMIT = 8;

type Hit = Schemas["SearchHit"];
type State =
  | { status: "idle" }
  | { status: "loading"; q: string }
  | { status: "done"; q: string; hits: Hit[]; total: number }
  | { status: "error"; q: string; message: string };

/** A snippet with its matched words marked, rebuilt as text (never inserted as HTML). */
export function Snippet({ html }: { html: string }) {
  return (
    <>
      {snippetSegments(html).map((s, i) => (s.marked ? <mark key={i}>{s.text}</mark> : <span key={i}>{s.text}</span>))}
    </>
  );
}

/**
 * The header's search over the learner's enrolled courses (GET /v1/search: meaning and words). Typing
 * searches after a pause (Enter at once); ↓ moves into the results, ↑/↓ between them, Escape closes and
 * returns to the box. A result opens the item in the course player.
 */
export function SearchBox() {
  const [q, setQ] = useState("");
  const [state, setState] = useState<State>({ status: "idle" });
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const resultsId = useId();
  const location = useLocation();
  const request = useRef(0);

  async function run(text: string) {
    const query = text.trim();
    if (!query) {
      setState({ status: "idle" });
      return;
    }
    const mine = ++request.current;
    setOpen(true);
    setState({ status: "loading", q: query });
    try {
      const page = await must(api.GET("/v1/search", { params: { query: { q: query, limit: LIMIT } } }));
      if (mine === request.current) setState({ status: "done", q: query, hits: page.items, total: page.total });
    } catch (err) {
      if (mine === request.current) setState({ status: "error", q: query, message: err instanceof Error ? err.message : String(err) });
    }
  }

  // Search as the learner types, after a pause; a newer request makes older answers irrelevant.
  useEffect(() => {
    if (q.trim().length < 2) return;
    const timer = window.setTimeout(() => void run(q), DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [q]);

  // Opening a result (or any navigation) closes the panel.
  useEffect(() => setOpen(false), [location.pathname]);

  // A click outside closes the panel.
  useEffect(() => {
    if (!open) return;
    const onDown = (event: MouseEvent) => {
      if (box.current && !box.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", onDown);
    return () => document.removeEventListener("mousedown", onDown);
  }, [open]);

  function links(): HTMLAnchorElement[] {
    return Array.from(box.current?.querySelectorAll<HTMLAnchorElement>(".search-results a") ?? []);
  }

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === "Escape") {
      setOpen(false);
      input.current?.focus();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const all = links();
    if (!all.length) return;
    event.preventDefault();
    setOpen(true);
    const at = all.indexOf(document.activeElement as HTMLAnchorElement);
    if (event.key === "ArrowDown") all[Math.min(at + 1, all.length - 1)]?.focus();
    else if (at <= 0) input.current?.focus();
    else all[at - 1]?.focus();
  }

  const shown = open && state.status !== "idle";
  return (
    <div className="search" ref={box} onKeyDown={onKeyDown}>
      <form
        role="search"
        aria-label="Search your courses"
        onSubmit={(event) => {
          event.preventDefault();
          void run(q);
        }}
      >
        <label htmlFor="site-search" className="visually-hidden">
          Search your courses
        </label>
        <input
          ref={input}
          id="site-search"
          type="search"
          placeholder="Search your courses"
          autoComplete="off"
          value={q}
          aria-controls={resultsId}
          onFocus={() => state.status !== "idle" && setOpen(true)}
          onChange={(event) => setQ(event.target.value)}
          data-testid="search-input"
        />
      </form>
      <div id={resultsId} className="search-panel" hidden={!shown} data-testid="search-results">
        <p className="visually-hidden" role="status" aria-live="polite">
          {state.status === "loading" ? "Searching…" : state.status === "done" ? `${state.total} results` : ""}
        </p>
        {state.status === "loading" && (
          <p className="status small">
            <span className="spinner" aria-hidden="true" /> Searching…
          </p>
        )}
        {state.status === "error" && <p className="error-text small">{state.message}</p>}
        {state.status === "done" && state.hits.length === 0 && (
          <p className="muted small search-empty">No matches in your courses for “{state.q}”.</p>
        )}
        {state.status === "done" && state.hits.length > 0 && (
          <ul className="search-results" aria-label={`Results for ${state.q}`}>
            {state.hits.map((hit) => (
              <li key={hit.item_id}>
                <Link to={`/courses/${hit.course_id}/items/${hit.item_id}`} onClick={() => setOpen(false)}>
                  <span className="search-title">{hit.title}</span>
                  <span className="search-snippet">
                    <Snippet html={hit.snippet} />
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

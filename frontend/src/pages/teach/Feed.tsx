import { useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";

import { session } from "../../api/session";
import { EmptyState } from "../../components/Status";
import { FeedStream, type FeedEvent, type FeedStatus } from "../../lib/feedStream";
import { useNames } from "./names";

const KEEP = 200;
const STATUS_WORDS: Record<FeedStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting… (events are caught up on return)",
  unauthorized: "Your session has ended: sign in again.",
  forbidden: "The live feed is for instructors and admins.",
  closed: "Closed",
};
const FILTERS: { value: string; label: string }[] = [
  { value: "", label: "Everything" },
  { value: "submission.", label: "Submissions" },
  { value: "review.", label: "Reviews" },
  { value: "tutor.", label: "Tutor" },
  { value: "budget.", label: "Budgets" },
];

function socketUrl(path: string): string {
  const url = new URL(path, globalThis.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export function describe(event: FeedEvent, names: ReturnType<typeof useNames>): { title: string; detail: string; tone: string } {
  const d = event.data;
  const pct = (v: unknown) => (typeof v === "number" ? `${Math.round(v * 100)}%` : "?");
  switch (event.type) {
    case "submission.escalated":
      return { title: "Submission needs a human", detail: `${names.person(d.user_id)} in ${names.course(d.course_id)}: ${String(d.reason ?? "")} (confidence ${pct(d.confidence)})`, tone: "warn" };
    case "submission.graded":
      return { title: `Graded by ${d.graded_by === "human" ? "a reviewer" : "AI"}`, detail: `${names.person(d.user_id)} in ${names.course(d.course_id)}: ${String(d.score)} / ${String(d.max_score)}`, tone: "ok" };
    case "review.claimed":
      return { title: "Review claimed", detail: `${names.person(d.reviewer_id)} is reviewing a submission`, tone: "info" };
    case "review.decided":
      return { title: `Review decided: ${String(d.decision ?? "")}`, detail: `${names.person(d.reviewer_id)} set the score to ${String(d.score)}`, tone: "ok" };
    case "tutor.session_started":
      return { title: "Tutoring session started", detail: `${names.person(d.user_id)} in ${names.course(d.course_id)} (${String(d.mode ?? "")})`, tone: "info" };
    case "tutor.blocked":
      return { title: `Tutor blocked a message: ${String(d.policy ?? "")}`, detail: `${names.person(d.user_id)} in ${names.course(d.course_id)}: ${String(d.reason ?? "")}`, tone: "warn" };
    case "budget.alert":
      return { title: `Budget at ${pct(d.threshold)}: ${String(d.scope ?? "")}`, detail: `${String(d.used_tokens)} of ${String(d.limit_tokens)} tokens used`, tone: "warn" };
    default:
      return { title: event.type, detail: "", tone: "info" };
  }
}

export function Feed() {
  const names = useNames();
  const [events, setEvents] = useState<FeedEvent[]>([]);
  const [status, setStatus] = useState<FeedStatus>("connecting");
  const [transport, setTransport] = useState<"websocket" | "sse">("websocket");
  const [filter, setFilter] = useState("");
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(false);
  const held = useRef<FeedEvent[]>([]);
  pausedRef.current = paused;

  useEffect(() => {
    const stream = new FeedStream({
      websocketUrl: socketUrl("/v1/review/feed"),
      sseUrl: "/v1/review/feed",
      getToken: () => session.token(),
      refreshToken: () => session.refresh(),
      onEvent: (event) => {
        if (pausedRef.current) held.current.push(event);
        else setEvents((all) => [event, ...all].slice(0, KEEP));
      },
      onStatus: (s, t) => {
        setStatus(s);
        setTransport(t);
      },
    });
    stream.start();
    return () => stream.close();
  }, []);

  function togglePause() {
    if (paused) {
      const backlog = held.current.reverse();
      held.current = [];
      setEvents((all) => [...backlog, ...all].slice(0, KEEP));
    }
    setPaused(!paused);
  }

  const shown = useMemo(() => events.filter((e) => e.type.startsWith(filter)), [events, filter]);

  return (
    <section aria-labelledby="feed-title">
      <div className="page-head">
        <h1 id="feed-title">Live feed</h1>
        <p className={`connection ${status}`} role="status" data-status={status} data-transport={transport}>
          {STATUS_WORDS[status]}
          {status === "live" && transport === "sse" && " (fallback streaming)"}
        </p>
      </div>
      <div className="toolbar">
        <label>
          Show{" "}
          <select value={filter} onChange={(e) => setFilter(e.target.value)}>
            {FILTERS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="button secondary small" onClick={togglePause} aria-pressed={paused}>
          {paused ? `Resume (${held.current.length} new)` : "Pause"}
        </button>
        <Link to="/teach/queue">Review queue →</Link>
      </div>
      {shown.length === 0 ? (
        <EmptyState title="Nothing yet">
          <p>Escalated grades, reviews, tutor sessions, blocked messages and budget alerts appear here as they happen.</p>
        </EmptyState>
      ) : (
        <ol className="feed" aria-label="Events, newest first" aria-live="polite" aria-relevant="additions">
          {shown.map((event) => {
            const text = describe(event, names);
            return (
              <li key={event.id} className={`feed-event tone-${text.tone}`} data-type={event.type}>
                <time dateTime={event.at}>{new Date(event.at).toLocaleTimeString()}</time>
                <strong>{text.title}</strong>
                <span className="muted">{text.detail}</span>
                {event.type === "submission.escalated" && typeof event.data.submission_id === "string" && (
                  <Link to={`/teach/review/submission/${event.data.submission_id}`}>Review</Link>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

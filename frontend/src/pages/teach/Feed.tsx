import { useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";

import { session } from "../../api/session";
import { EmptyState } from "../../components/Status";
import { FeedStream, type FeedEvent, type FeedStatus } from "../../lib/feedStream";
import { useNames } from "./names";
import { ESCALATION_WHY, graderName, humanSignals, policyName, when } from "./wording";
import "../../styles/teach.css";

const KEEP = 200;
const STATUS_WORDS: Record<FeedStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting… (events are caught up on return)",
  unauthorized: "Your session has ended: sign in again.",
  forbidden: "The live feed is for instructors and admins.",
  closed: "Closed",
};
interface Filter {
  value: string;
  label: string;
  matches(event: FeedEvent): boolean;
}

/** What an instructor acts on: a submission waiting for a person, a blocked message, a budget alert. */
export const ACTIONABLE = new Set(["submission.escalated", "tutor.blocked", "budget.alert", "alert.fired"]);
const FILTERS: Filter[] = [
  { value: "action", label: "Needs action", matches: (e) => ACTIONABLE.has(e.type) },
  { value: "all", label: "Everything", matches: () => true },
  { value: "submission.", label: "Submissions and grades", matches: (e) => e.type.startsWith("submission.") },
  { value: "review.", label: "Reviews", matches: (e) => e.type.startsWith("review.") },
  { value: "tutor.blocked", label: "Blocked messages", matches: (e) => e.type === "tutor.blocked" },
  { value: "tutor.session_started", label: "Tutoring sessions", matches: (e) => e.type === "tutor.session_started" },
  { value: "budget.", label: "Budgets", matches: (e) => e.type.startsWith("budget.") },
  { value: "alert.", label: "Alerts", matches: (e) => e.type.startsWith("alert.") },
];
const MODES: Record<string, string> = { socratic: "guided questions", hint: "hints", explain: "explanations" };
const ALERT_KINDS: Record<string, string> = {
  cost_burn_rate: "AI spend is running high",
  rating_drop: "learners' ratings of the tutor dropped",
  guardrail_spike: "guardrails are acting more than usual",
  grading_disagreement: "reviewers are overriding many AI grades",
};
const SCOPES: Record<string, string> = {
  org: "the organisation's",
  course: "a course's",
  user: "a learner's",
  session: "a session's",
};

function socketUrl(path: string): string {
  const url = new URL(path, globalThis.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export function describe(event: FeedEvent, names: ReturnType<typeof useNames>): { title: string; detail: string; tone: string } {
  const d = event.data;
  const pct = (v: unknown) => (typeof v === "number" ? `${Math.round(v * 100)}%` : null);
  const who = `${names.person(d.user_id)} in ${names.course(d.course_id)}`;
  const num = (v: unknown) => (typeof v === "number" ? v.toLocaleString("en-GB") : "?");
  switch (event.type) {
    case "submission.escalated": {
      const why = ESCALATION_WHY[String(d.reason)] ?? String(d.reason ?? "").replace(/_/g, " ");
      const confidence = pct(d.confidence);
      return { title: "Submission needs a human", detail: `${who}: ${why}${confidence ? ` (AI confidence ${confidence})` : ""}`, tone: "warn" };
    }
    case "submission.graded":
      return { title: `Graded by ${graderName(d.grader, d.graded_by)}`, detail: `${who}: ${num(d.score)} / ${num(d.max_score)}`, tone: "ok" };
    case "review.claimed":
      return { title: "Review claimed", detail: `${names.person(d.reviewer_id)} is reviewing a submission`, tone: "info" };
    case "review.decided":
      return {
        title: d.decision === "override" ? "Reviewer changed a grade" : "Reviewer confirmed a grade",
        detail: `${names.person(d.reviewer_id)} ${d.decision === "override" ? "set the score to" : "kept the score of"} ${num(d.score)}`,
        tone: "ok",
      };
    case "tutor.session_started":
      return { title: "Tutoring session started", detail: `${who} (${MODES[String(d.mode)] ?? String(d.mode ?? "")})`, tone: "info" };
    case "tutor.blocked": {
      const stage = d.stage === "output" ? "the tutor's reply" : "a message";
      const signals = humanSignals(d.reason);
      return {
        title: `Tutor blocked ${stage}: ${policyName(d.policy)}`,
        detail: `${who}${signals ? `: ${signals}` : ""}`,
        tone: "warn",
      };
    }
    case "budget.alert":
      return {
        title: `${SCOPES[String(d.scope)] ?? "A"} token budget is ${pct(d.threshold) ?? "nearly"} used`.replace(/^./, (c) => c.toUpperCase()),
        detail: `${num(d.used_tokens)} of ${num(d.limit_tokens)} tokens${d.user_id ? ` (last used by ${names.person(d.user_id)} in ${names.course(d.course_id)})` : ""}`,
        tone: "warn",
      };
    case "alert.fired":
      return {
        title: `Alert: ${ALERT_KINDS[String(d.kind)] ?? "a rule fired"}`,
        detail: `${num(d.value)} against a threshold of ${num(d.threshold)} over the last ${num(d.window_minutes)} minutes. See Alerts.`,
        tone: "warn",
      };
    default:
      return { title: event.type.replace(/[._]/g, " "), detail: "", tone: "info" };
  }
}

export function Feed() {
  const names = useNames();
  const [events, setEvents] = useState<FeedEvent[]>([]);
  const [status, setStatus] = useState<FeedStatus>("connecting");
  const [transport, setTransport] = useState<"websocket" | "sse">("websocket");
  const [filter, setFilter] = useState("action");
  const [paused, setPaused] = useState(false);
  const pausedRef = useRef(false);
  // Events that arrived while paused, newest first: state, so the "Resume (N new)" count stays current.
  const [held, setHeld] = useState<FeedEvent[]>([]);
  pausedRef.current = paused;

  useEffect(() => {
    const stream = new FeedStream({
      websocketUrl: socketUrl("/v1/review/feed"),
      sseUrl: "/v1/review/feed",
      getToken: () => session.token(),
      refreshToken: () => session.refresh(),
      onEvent: (event) => {
        if (pausedRef.current) setHeld((waiting) => [event, ...waiting].slice(0, KEEP));
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
      setEvents((all) => [...held, ...all].slice(0, KEEP));
      setHeld([]);
    }
    pausedRef.current = !paused;
    setPaused(!paused);
  }

  const active: Filter = FILTERS.find((f) => f.value === filter) ?? FILTERS[0]!;
  const shown = useMemo(() => events.filter(active.matches), [events, active]);
  const heldShown = held.filter(active.matches).length;

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
                {f.label} ({events.filter(f.matches).length})
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="button secondary small" onClick={togglePause} aria-pressed={paused}>
          {paused ? `Resume (${heldShown} new${held.length > heldShown ? `, ${held.length - heldShown} in other filters` : ""})` : "Pause"}
        </button>
        <Link to="/teach/queue">Review queue →</Link>
      </div>
      {shown.length === 0 ? (
        <EmptyState title={filter === "action" ? "Nothing needs you right now" : "Nothing yet"}>
          <p>
            {filter === "action"
              ? "Submissions waiting for a person, blocked tutor messages, budget alerts and fired alerts appear here as they happen."
              : "Escalated grades, reviews, tutor sessions, blocked messages and budget alerts appear here as they happen."}
            {events.length > shown.length && ` ${events.length - shown.length} other events are under other filters.`}
          </p>
        </EmptyState>
      ) : (
        <ol className="feed" aria-label="Events, newest first" aria-live="polite" aria-relevant="additions">
          {shown.map((event) => {
            const text = describe(event, names);
            return (
              <li
                key={event.id}
                className={`feed-event tone-${text.tone}`}
                data-type={event.type}
                data-submission={typeof event.data.submission_id === "string" ? event.data.submission_id : undefined}
              >
                <time dateTime={event.at} title={new Date(event.at).toISOString()}>{when(event.at)}</time>
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

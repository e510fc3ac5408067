import { useCallback, useEffect, useId, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { Link } from "react-router";

import { api, must, type Schemas } from "../api/client";
import { session } from "../api/session";
import { explainBlocked, explainError } from "../lib/explain";
import { renderMarkdown } from "../lib/markdown";
import { TutorStream, type ConnectionStatus, type Transport, type TutorEvent } from "../lib/tutorStream";
import "../styles/chat.css";

type Mode = "socratic" | "hint" | "explain";
const MODES: { value: Mode; label: string; hint: string }[] = [
  { value: "socratic", label: "Socratic", hint: "Guiding questions that lead you to the answer" },
  { value: "hint", label: "Hint", hint: "A nudge in the right direction, one step at a time" },
  { value: "explain", label: "Explain", hint: "A clear explanation of the idea" },
];

const MODE_LABEL: Record<string, string> = Object.fromEntries(MODES.map((m) => [m.value, m.label]));

interface ChatMessage {
  id: string;
  role: "learner" | "tutor" | "system";
  text: string;
  status: "queued" | "sending" | "streaming" | "done" | "cancelled" | "blocked" | "error";
  interactionId?: string;
  rating?: number;
  label?: string;
  mode?: string; // learner messages: the tutor mode it was sent in
  sources?: Source[]; // tutor replies: the course passages the reply was grounded on
}

type Source = Schemas["Source"];

type Transcript = Schemas["Transcript"];

/** A stored conversation as the panel shows it: each question (with its mode) and its answer. */
function fromTranscript(transcript: Transcript): ChatMessage[] {
  return transcript.turns.flatMap((turn): ChatMessage[] => {
    const id = turn.client_message_id || turn.interaction_id;
    if (turn.purged) {
      // The text was deleted (the organization's transcript retention, or an erasure); the turn stays.
      const gone = "This message was deleted under your organization's data retention.";
      return [
        { id, role: "learner", text: gone, status: "done", mode: turn.mode ?? undefined },
        { id: `reply-${id}`, role: "tutor", text: gone, status: "done", sources: [] },
      ];
    }
    let status: ChatMessage["status"] = "done";
    let text = turn.reply;
    if (turn.status === "cancelled") status = "cancelled";
    else if (turn.status === "blocked") {
      status = "blocked";
      const policy = turn.guardrails.find((g) => g.action === "block")?.name;
      const words = blockedWords(String(policy ?? ""), "");
      text = text ? `${text}\n\n---\n\n${words}` : words;
    } else if (turn.status !== "completed") {
      status = "error";
      text = text || explainError(turn.status, "");
    }
    return [
      { id, role: "learner", text: turn.user, status: "done", mode: turn.mode ?? undefined },
      {
        id: `reply-${id}`,
        role: "tutor",
        text,
        status,
        interactionId: status === "done" ? turn.interaction_id : undefined,
        sources: turn.sources ?? [],
      },
    ];
  });
}

/** Why the tutor stopped, said once: the kind explanation for a known policy, the server's reason otherwise. */
function blockedWords(policy: string, reason: string, resetsAt?: string | null): string {
  const kind = explainBlocked(policy, "", resetsAt);
  return kind === explainBlocked("", "") && reason ? explainBlocked(policy, reason, resetsAt) : kind;
}

/** While a reply streams, close an emphasis the model opened but has not closed yet, so a half-written
 * `*Offline tutor` shows in italics rather than as a raw asterisk. */
export function closeOpenEmphasis(text: string): string {
  const fences = (text.match(/^```/gm) ?? []).length;
  if (fences % 2 === 1) return text; // inside a code block: asterisks are literal
  const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  const strong = (prose.match(/\*\*/g) ?? []).length;
  const single = (prose.replace(/\*\*/g, "").replace(/^\s*\* /gm, "").match(/\*/g) ?? []).length;
  let closed = text.replace(/\s*\*+$/, (tail) => (tail.trim() ? "" : tail)); // an opener with nothing after it yet
  if (closed !== text) return closeOpenEmphasis(closed);
  if (single % 2 === 1) closed += "*";
  if (strong % 2 === 1) closed += "**";
  return closed;
}

/** The tutor allowance in plain words, and only once it runs low (a number of tokens means nothing). */
export function allowanceWords(remaining: number | null, perReply: number | null): string | null {
  if (remaining === null || remaining < 0) return null;
  if (remaining === 0) return "You've used your tutor allowance for now.";
  const replies = perReply && perReply > 0 ? Math.floor(remaining / perReply) : null;
  if (replies !== null && replies <= 5) {
    return replies <= 1 ? "Tutor allowance: about one more answer for now." : `Tutor allowance: about ${replies} more answers for now.`;
  }
  return null;
}

const STATUS_WORDS: Record<ConnectionStatus, string> = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Connection lost: reconnecting…",
  offline: "You're offline. Messages wait here and are sent when you're back.",
  unauthorized: "Your session has ended. Sign in again to keep chatting.",
  closed: "The tutor connection is closed.",
};

function newId(): string {
  return globalThis.crypto?.randomUUID?.() ?? `m-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function socketUrl(path: string): string {
  const base = new URL(path, globalThis.location.href);
  base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  return base.toString();
}

/** Split streamed text into whole sentences for the screen-reader live region (one token at a time is noise). */
function sentencesReady(buffer: string): [string, string] {
  const cut = Math.max(buffer.lastIndexOf(". "), buffer.lastIndexOf("? "), buffer.lastIndexOf("! "), buffer.lastIndexOf("\n"));
  return cut === -1 ? ["", buffer] : [buffer.slice(0, cut + 1), buffer.slice(cut + 1)];
}

export function ChatPanel({ courseId, itemId, itemTitle }: { courseId: string; itemId?: string; itemTitle?: string }) {
  const [mode, setMode] = useState<Mode>("socratic");
  const [tutorSession, setTutorSession] = useState<Schemas["SessionOut"] | null>(null);
  const [startError, setStartError] = useState<string | null>(null);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [draft, setDraft] = useState("");
  const [status, setStatus] = useState<ConnectionStatus>("connecting");
  const [transport, setTransport] = useState<Transport>("websocket");
  const [budget, setBudget] = useState<number | null>(null);
  const [perReply, setPerReply] = useState<number | null>(null);
  const [restoring, setRestoring] = useState(true);
  const modeRef = useRef<Mode>(mode);
  const providerLabel = useRef<string | undefined>(undefined);
  providerLabel.current = tutorSession?.provider_label;
  modeRef.current = mode;
  const [announcement, setAnnouncement] = useState("");
  const streamRef = useRef<TutorStream | null>(null);
  // Messages sent while the tutoring session is still being created: sent as soon as its stream exists.
  const waiting = useRef<{ id: string; text: string; mode: Mode }[]>([]);
  const spoken = useRef("");
  const listRef = useRef<HTMLOListElement>(null);

  const update = useCallback((id: string, change: (m: ChatMessage) => ChatMessage) => {
    setMessages((all) => all.map((m) => (m.id === id ? change(m) : m)));
  }, []);

  const announce = useCallback((text: string) => {
    const [ready, rest] = sentencesReady(spoken.current + text);
    spoken.current = rest;
    if (ready.trim()) setAnnouncement(ready.trim());
  }, []);

  const onEvent = useCallback(
    (event: TutorEvent) => {
      const id = `reply-${event.message_id}`;
      if (event.type === "delta") {
        update(id, (m) => ({ ...m, text: m.text + event.text, status: "streaming" }));
        announce(event.text);
        return;
      }
      if (spoken.current.trim()) setAnnouncement(spoken.current.trim());
      spoken.current = "";
      update(event.message_id, (m) => ({ ...m, status: "done" }));
      if (event.type === "done") {
        if (event.budget.remaining_tokens >= 0) setBudget(event.budget.remaining_tokens);
        const used = event.usage.input_tokens + event.usage.output_tokens;
        if (used > 0) setPerReply(used);
        update(id, (m) => ({
          ...m,
          status: event.status === "cancelled" ? "cancelled" : "done",
          interactionId: event.interaction_id || undefined,
          sources: event.sources ?? [],
          // The reply's own label only when it differs from the conversation's (a fallback model, say):
          // the header already says which tutor this is.
          label: event.provider_label && event.provider_label !== providerLabel.current ? event.provider_label : m.label,
        }));
      } else if (event.type === "blocked") {
        const words = blockedWords(event.policy, event.reason, event.resets_at);
        update(id, (m) => ({ ...m, status: "blocked", text: m.text ? `${m.text}\n\n---\n\n${words}` : words }));
        setAnnouncement(`The tutor stopped: ${words}`);
      } else if (event.type === "error") {
        const words = explainError(event.code, event.detail);
        update(id, (m) => ({ ...m, status: "error", text: words }));
        setAnnouncement(words);
      }
    },
    [announce, update],
  );

  // One conversation per course and item, kept across reloads and mode switches (the mode goes with each
  // message): resume the open one and show what was said, or start one.
  useEffect(() => {
    let live = true;
    setTutorSession(null);
    setStartError(null);
    setMessages([]);
    setRestoring(true);
    const body = { course_id: courseId, item_id: itemId ?? null, mode: modeRef.current, resume: true };
    (async () => {
      const opened = await must(api.POST("/v1/tutor/sessions", { body }));
      let earlier: ChatMessage[] = [];
      if (opened.reused) {
        const transcript = await must(
          api.GET("/v1/tutor/sessions/{session_id}", { params: { path: { session_id: opened.id } } }),
        );
        earlier = fromTranscript(transcript);
        const lastMode = [...transcript.turns].reverse().find((t) => t.mode)?.mode ?? opened.mode;
        if (live && MODES.some((m) => m.value === lastMode)) setMode(lastMode as Mode);
      }
      if (!live) return;
      // Anything typed while this loaded stays, after the earlier turns.
      setMessages((typed) => [...earlier, ...typed]);
      setTutorSession(opened);
    })().then(
      () => live && setRestoring(false),
      (error: unknown) => {
        if (!live) return;
        setRestoring(false);
        setStartError(error instanceof Error ? error.message : String(error));
      },
    );
    return () => {
      live = false;
    };
  }, [courseId, itemId]);

  /** "New conversation": close this one (the server keeps it for the record) and start afresh. */
  async function startNew() {
    streamRef.current?.close();
    streamRef.current = null;
    waiting.current = [];
    setStartError(null);
    setTutorSession(null);
    setMessages([]);
    setBudget(null);
    try {
      const started = await must(
        api.POST("/v1/tutor/sessions", { body: { course_id: courseId, item_id: itemId ?? null, mode, resume: false } }),
      );
      setTutorSession(started);
      setAnnouncement("New conversation started.");
    } catch (error) {
      setStartError(error instanceof Error ? error.message : String(error));
    }
  }

  useEffect(() => {
    if (!tutorSession) return;
    const stream = new TutorStream({
      websocketUrl: socketUrl(tutorSession.websocket_url),
      messagesUrl: tutorSession.messages_url,
      getToken: () => session.token(),
      refreshToken: () => session.refresh(),
      forceTransport: new URLSearchParams(globalThis.location.search).get("transport") === "sse" ? "sse" : undefined,
      handlers: {
        onEvent,
        onReset: (messageId) => update(`reply-${messageId}`, (m) => ({ ...m, text: "", status: "sending" })),
        onStatus: (s, t) => {
          setStatus(s);
          setTransport(t);
        },
        onMessageState: (messageId, state) =>
          update(messageId, (m) => (state === "finished" ? m : { ...m, status: state === "queued" ? "queued" : "sending" })),
      },
    });
    streamRef.current = stream;
    stream.start();
    for (const message of waiting.current.splice(0)) stream.send(message.id, message.text, message.mode);
    const wake = () => stream.wake();
    globalThis.addEventListener("online", wake);
    return () => {
      globalThis.removeEventListener("online", wake);
      stream.close();
      streamRef.current = null;
    };
  }, [tutorSession, onEvent, update]);

  useEffect(() => {
    listRef.current?.lastElementChild?.scrollIntoView?.({ block: "end" });
  }, [messages]);

  const streaming = messages.some((m) => m.role === "tutor" && (m.status === "streaming" || m.status === "sending"));

  function send(event?: FormEvent) {
    event?.preventDefault();
    const text = draft.trim();
    if (!text) return;
    const stream = streamRef.current;
    const id = newId();
    setMessages((all) => [
      ...all,
      { id, role: "learner", text, status: "queued", mode },
      { id: `reply-${id}`, role: "tutor", text: "", status: "sending" },
    ]);
    setDraft("");
    if (stream) stream.send(id, text, mode);
    else waiting.current.push({ id, text, mode }); // the session is still starting: nothing typed is lost
  }

  function stop() {
    const pending = [...messages].reverse().find((m) => m.role === "learner" && m.status !== "done");
    const reply = [...messages].reverse().find((m) => m.role === "tutor" && (m.status === "streaming" || m.status === "sending"));
    const id = reply?.id.replace(/^reply-/, "") ?? pending?.id;
    if (id) streamRef.current?.cancel(id);
  }

  function onKey(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey) send(event as unknown as FormEvent);
  }

  async function rate(message: ChatMessage, rating: number) {
    if (!message.interactionId) return;
    update(message.id, (m) => ({ ...m, rating }));
    try {
      await must(
        api.POST("/v1/tutor/interactions/{interaction_id}/feedback", {
          params: { path: { interaction_id: message.interactionId } },
          body: { rating, comment: "" },
        }),
      );
      setAnnouncement(`Thanks: you rated that reply ${rating} out of 5.`);
    } catch (error) {
      update(message.id, (m) => ({ ...m, rating: undefined }));
      setAnnouncement(error instanceof Error ? error.message : "Your rating couldn't be saved.");
    }
  }

  const modeHint = useMemo(() => MODES.find((m) => m.value === mode)?.hint ?? "", [mode]);

  return (
    <aside className="chat" aria-labelledby="chat-title">
      <header className="chat-head">
        <h2 id="chat-title">Tutor</h2>
        {tutorSession?.offline && (
          <span className="badge offline" title="No AI model is configured: answers come from the course material">
            Offline tutor
          </span>
        )}
        <p className="muted small chat-context">{itemTitle ? `Helping with “${itemTitle}”` : "Ask about anything in this course"}</p>
        <button
          type="button"
          className="button secondary small new-conversation"
          onClick={() => void startNew()}
          disabled={streaming || !tutorSession || messages.length === 0}
          title="Close this conversation and start a fresh one (the tutor forgets what was said here)"
        >
          New conversation
        </button>
      </header>
      <fieldset className="modes">
        <legend className="visually-hidden">Tutor mode</legend>
        {MODES.map((m) => (
          <label key={m.value} className={mode === m.value ? "selected" : ""} title={m.hint}>
            <input type="radio" name="tutor-mode" value={m.value} checked={mode === m.value} onChange={() => setMode(m.value)} />
            {m.label}
          </label>
        ))}
      </fieldset>
      <p className="muted small">{modeHint}</p>
      <p className={`connection ${status}`} role="status" data-transport={transport} data-status={status}>
        {STATUS_WORDS[status]}
        {status === "open" && transport === "sse" && " (fallback streaming)"}
      </p>
      {allowanceWords(budget, perReply) && (
        <p className="muted small allowance" data-testid="tutor-allowance">
          {allowanceWords(budget, perReply)}
        </p>
      )}
      {startError && (
        <p className="error-text" role="alert">
          The tutor couldn't start: {startError}
        </p>
      )}
      <ol className="messages" ref={listRef} aria-label="Conversation" aria-busy={restoring}>
        {messages.length === 0 && restoring && <li className="empty-chat muted">Loading your conversation…</li>}
        {messages.length === 0 && !restoring && (
          <li className="empty-chat muted">
            Stuck or curious? Ask a question. In Socratic mode the tutor answers with questions that help you work it out.
          </li>
        )}
        {messages.map((m) => (
          <MessageView key={m.id} message={m} onRate={rate} courseId={courseId} />
        ))}
      </ol>
      <div className="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="chat-live">
        {announcement}
      </div>
      <form className="composer" onSubmit={send}>
        <label htmlFor="chat-input" className="visually-hidden">
          Message to the tutor
        </label>
        <textarea
          id="chat-input"
          rows={2}
          value={draft}
          maxLength={4000}
          placeholder={status === "offline" ? "You're offline: your message will be sent when you reconnect" : "Ask the tutor…"}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKey}
          disabled={status === "unauthorized"}
        />
        {streaming ? (
          <button type="button" className="button danger" onClick={stop}>
            Stop
          </button>
        ) : (
          <button type="submit" className="button" disabled={!draft.trim()}>
            Send
          </button>
        )}
      </form>
    </aside>
  );
}

function MessageView({
  message,
  onRate,
  courseId,
}: {
  message: ChatMessage;
  onRate(m: ChatMessage, rating: number): void;
  courseId: string;
}) {
  const shown = message.status === "streaming" ? closeOpenEmphasis(message.text) : message.text;
  const html = useMemo(() => (message.role === "tutor" ? renderMarkdown(shown) : ""), [message.role, shown]);
  if (message.role === "learner") {
    return (
      <li className="message learner" data-status={message.status} data-mode={message.mode}>
        {message.mode && <span className="message-mode muted small">{MODE_LABEL[message.mode] ?? message.mode}</span>}
        <p>{message.text}</p>
        {message.status === "queued" && <span className="muted small">Waiting to send…</span>}
      </li>
    );
  }
  return (
    <li className={`message tutor status-${message.status}`} data-status={message.status} data-testid="tutor-reply">
      {message.label && <span className="reply-label muted small">{message.label}</span>}
      {message.text ? (
        // Sanitised by renderMarkdown (DOMPurify): model output never becomes live HTML.
        <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />
      ) : (
        <span className="typing" aria-label="The tutor is thinking">
          <span />
          <span />
          <span />
        </span>
      )}
      {message.status === "cancelled" && <p className="muted small">Stopped.</p>}
      {(message.status === "done" || message.status === "cancelled") && message.sources && message.sources.length > 0 && (
        <SourceLinks sources={message.sources} courseId={courseId} />
      )}
      {message.status === "done" && message.interactionId && (
        <div className="rating" role="group" aria-label="Rate this reply">
          <span className="muted small">Helpful?</span>
          {[1, 2, 3, 4, 5].map((n) => (
            <button
              key={n}
              type="button"
              className={`star${message.rating && n <= message.rating ? " on" : ""}`}
              aria-label={`Rate ${n} out of 5`}
              aria-pressed={message.rating === n}
              onClick={() => onRate(message, n)}
            >
              ★
            </button>
          ))}
        </div>
      )}
    </li>
  );
}

/** The lessons a reply was grounded on, as links into the course player; each passage is the link's
 * accessible description (and its tooltip), so a screen reader hears what the source says. */
function SourceLinks({ sources, courseId }: { sources: Source[]; courseId: string }) {
  const base = useId();
  return (
    <nav className="sources small" aria-label="Sources" data-testid="tutor-sources">
      <span className="muted">Sources:</span>
      <ul>
        {sources.map((source, n) => (
          <li key={source.item_id}>
            <Link
              to={`/courses/${courseId}/items/${source.item_id}`}
              title={source.snippet}
              aria-describedby={`${base}-${n}`}
            >
              {source.title}
            </Link>
            <span id={`${base}-${n}`} hidden>
              {source.snippet}
            </span>
          </li>
        ))}
      </ul>
    </nav>
  );
}

import { useEffect, useRef, useState, type FormEvent } from "react";

import { authedFetch, describeProblem } from "../../../api/client";
import { closeOpenEmphasis } from "../../../components/ChatPanel";
import { explainBlocked, explainError } from "../../../lib/explain";
import { renderMarkdown } from "../../../lib/markdown";
import { readEventStream } from "../../../lib/sse";
import "../../../styles/chat.css";

type Mode = "socratic" | "hint" | "explain";
const MODES: { value: Mode; label: string }[] = [
  { value: "socratic", label: "Socratic" },
  { value: "hint", label: "Hint" },
  { value: "explain", label: "Explain" },
];
const HISTORY_TURNS = 10; // the server takes at most this many earlier turns

interface PreviewMessage {
  id: string;
  question: string;
  mode: Mode;
  reply: string;
  status: "streaming" | "done" | "blocked" | "error";
  label?: string;
}

/** "Try the tutor" on the draft preview: the learner tutor answering from the DRAFT's material over SSE
 * (the learner tutor's events). Nothing is saved as a conversation: the last turns live in this panel only
 * and go back with each question. */
export function PreviewTutor({ draftId, itemId, itemTitle }: { draftId: string; itemId: string; itemTitle: string }) {
  const [open, setOpen] = useState(false);
  const [mode, setMode] = useState<Mode>("socratic");
  const [draft, setDraft] = useState("");
  const [messages, setMessages] = useState<PreviewMessage[]>([]);
  const [announcement, setAnnouncement] = useState("");
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    abort.current?.abort();
    setMessages([]); // a new item: a new conversation
  }, [itemId]);
  useEffect(() => () => abort.current?.abort(), []);

  const streaming = messages.some((m) => m.status === "streaming");
  const update = (id: string, change: (m: PreviewMessage) => PreviewMessage) =>
    setMessages((all) => all.map((m) => (m.id === id ? change(m) : m)));

  async function send(event: FormEvent) {
    event.preventDefault();
    const text = draft.trim();
    if (!text || streaming) return;
    const id = globalThis.crypto?.randomUUID?.() ?? `p-${Date.now()}`;
    const history = messages
      .filter((m) => m.status === "done" && m.reply)
      .slice(-HISTORY_TURNS)
      .map((m) => ({ user: m.question, reply: m.reply }));
    setMessages((all) => [...all, { id, question: text, mode, reply: "", status: "streaming" }]);
    setDraft("");
    const controller = new AbortController();
    abort.current = controller;
    try {
      const response = await authedFetch(
        new Request(`/v1/authoring/courses/${draftId}/preview/tutor`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify({ item_id: itemId, text, mode, history, id }),
          signal: controller.signal,
        }),
      );
      if (!response.ok || !response.body) {
        const problem: unknown = await response.json().catch(() => null);
        const words = describeProblem(problem, `The tutor could not answer (HTTP ${response.status}).`);
        update(id, (m) => ({ ...m, status: "error", reply: words }));
        setAnnouncement(words);
        return;
      }
      await readEventStream(response.body, (sse) => {
        const data = JSON.parse(sse.data) as Record<string, unknown>;
        if (sse.event === "delta") {
          update(id, (m) => ({ ...m, reply: m.reply + String(data.text ?? "") }));
        } else if (sse.event === "done") {
          update(id, (m) => ({ ...m, status: "done", label: String(data.provider_label ?? "") || undefined }));
        } else if (sse.event === "blocked") {
          const words = explainBlocked(String(data.policy ?? ""), String(data.reason ?? ""), data.resets_at as string | null);
          update(id, (m) => ({ ...m, status: "blocked", reply: m.reply ? `${m.reply}\n\n---\n\n${words}` : words }));
          setAnnouncement(`The tutor stopped: ${words}`);
        } else if (sse.event === "error") {
          const words = explainError(String(data.code ?? ""), String(data.detail ?? ""));
          update(id, (m) => ({ ...m, status: "error", reply: words }));
          setAnnouncement(words);
        }
      });
      setMessages((all) => {
        const done = all.find((m) => m.id === id);
        if (done?.status === "done") setAnnouncement(done.reply.slice(0, 400));
        return all.map((m) => (m.id === id && m.status === "streaming" ? { ...m, status: "done" } : m));
      });
    } catch (error) {
      if (controller.signal.aborted) {
        update(id, (m) => (m.status === "streaming" ? { ...m, status: "done" } : m)); // stopped
        return;
      }
      const words = describeProblem(error);
      update(id, (m) => ({ ...m, status: "error", reply: words }));
      setAnnouncement(words);
    }
  }

  return (
    <aside className="chat preview-tutor" aria-labelledby="preview-tutor-title">
      <header className="chat-head">
        <h2 id="preview-tutor-title">
          <button type="button" className="button secondary small" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? "Hide the tutor" : "Try the tutor"}
          </button>
        </h2>
        <p className="muted small chat-context">
          Answers from this draft’s material for “{itemTitle}”, as learners would get them. Nothing is saved and nobody is
          enrolled.
        </p>
      </header>
      {open && (
        <>
          <fieldset className="modes">
            <legend className="visually-hidden">Tutor mode</legend>
            {MODES.map((m) => (
              <label key={m.value} className={mode === m.value ? "selected" : ""}>
                <input type="radio" name="preview-tutor-mode" value={m.value} checked={mode === m.value} onChange={() => setMode(m.value)} />
                {m.label}
              </label>
            ))}
          </fieldset>
          <ol className="messages" aria-label="Preview conversation">
            {messages.length === 0 && <li className="empty-chat muted">Ask what a learner on this item might ask.</li>}
            {messages.flatMap((m) => [
              <li key={`${m.id}-q`} className="message learner" data-mode={m.mode}>
                <p>{m.question}</p>
              </li>,
              <li key={m.id} className={`message tutor status-${m.status}`} data-status={m.status} data-testid="preview-tutor-reply">
                {m.label && <span className="reply-label muted small">{m.label}</span>}
                {m.reply ? (
                  // Sanitised by renderMarkdown (DOMPurify): model output never becomes live HTML.
                  <div
                    className="markdown"
                    dangerouslySetInnerHTML={{ __html: renderMarkdown(m.status === "streaming" ? closeOpenEmphasis(m.reply) : m.reply) }}
                  />
                ) : (
                  <span className="typing" aria-label="The tutor is thinking">
                    <span />
                    <span />
                    <span />
                  </span>
                )}
              </li>,
            ])}
          </ol>
          <div className="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="preview-tutor-live">
            {announcement}
          </div>
          <form className="composer" onSubmit={(e) => void send(e)}>
            <label htmlFor="preview-tutor-input" className="visually-hidden">
              Question to the draft’s tutor
            </label>
            <textarea
              id="preview-tutor-input"
              rows={2}
              value={draft}
              maxLength={4000}
              placeholder="Ask the tutor…"
              onChange={(e) => setDraft(e.target.value)}
            />
            {streaming ? (
              <button type="button" className="button danger" onClick={() => abort.current?.abort()}>
                Stop
              </button>
            ) : (
              <button type="submit" className="button" disabled={!draft.trim()}>
                Ask
              </button>
            )}
          </form>
        </>
      )}
    </aside>
  );
}

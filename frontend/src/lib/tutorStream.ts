/**
 * The tutor connection: one session, WebSocket first, SSE when WebSockets are blocked.
 *
 * - Messages go out one at a time (the server answers one reply per connection at a time); the rest wait
 *   in a visible queue, so a message typed while offline is held, never dropped.
 * - When the connection drops mid-reply, it reconnects with exponential backoff and jitter and asks again.
 *   The server records the interrupted reply as cancelled under the message's wire id, so the retry goes
 *   out under a fresh wire id (`<id>.r1`, …) while the UI keeps the original id and resets that reply
 *   first: the learner sees one message and one complete answer, never a duplicate or a stale fragment.
 * - WebSockets that never open (a proxy that blocks upgrades) switch the session to SSE for good.
 *
 * Framework-free so it can be unit-tested with fake WebSocket and fetch implementations.
 */
import type { components } from "../api/schema";
import { readEventStream } from "./sse";

export type TutorEvent = components["schemas"]["TutorEvent"];
export type Transport = "websocket" | "sse";
export type ConnectionStatus = "connecting" | "open" | "reconnecting" | "offline" | "unauthorized" | "closed";

export interface StreamHandlers {
  /** A server event for one message (deltas, done, blocked, error). */
  onEvent(event: TutorEvent): void;
  /** The reply to `messageId` restarts (after a reconnect): drop any partial text shown for it. */
  onReset(messageId: string): void;
  onStatus(status: ConnectionStatus, transport: Transport): void;
  /** A message's delivery state changed: queued (waiting), sending (on the wire), finished. */
  onMessageState?(messageId: string, state: "queued" | "sending" | "finished"): void;
}

export interface StreamOptions {
  websocketUrl: string; // absolute ws:// or wss:// URL
  messagesUrl: string; // the SSE endpoint (same origin)
  getToken(): Promise<string | null>;
  /** Called once after a 4401 / 401; returns false when the user must sign in again. */
  refreshToken(): Promise<boolean>;
  handlers: StreamHandlers;
  WebSocketImpl?: typeof WebSocket;
  fetchImpl?: typeof fetch;
  isOnline?: () => boolean;
  random?: () => number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A socket that has not opened after this long counts as blocked. */
  openTimeoutMs?: number;
  /** Failed opens in a row (never having opened once) before switching to SSE. */
  wsFailuresBeforeSse?: number;
  forceTransport?: Transport;
}

interface Outgoing {
  id: string; // the UI's id for the message
  text: string;
  mode?: string; // this message's tutor mode (the conversation's default when absent)
  wireId: string; // the id sent to the server for this attempt
  attempt: number;
}

const TERMINAL = new Set(["done", "blocked", "error"]);
const RETRYABLE_ERRORS = new Set(["busy", "unavailable", "timeout", "overloaded"]);

export class TutorStream {
  transport: Transport;
  status: ConnectionStatus = "connecting";
  private readonly queue: Outgoing[] = [];
  private inflight: Outgoing | null = null;
  private readonly finished = new Set<string>();
  private socket: WebSocket | null = null;
  private everOpened = false;
  private failedOpens = 0;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private sseAbort: AbortController | null = null;
  private closed = false;
  private refreshedOnce = false;
  private readonly WS: typeof WebSocket;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: StreamOptions) {
    this.transport = options.forceTransport ?? "websocket";
    this.WS = options.WebSocketImpl ?? globalThis.WebSocket;
    this.doFetch = options.fetchImpl ?? globalThis.fetch.bind(globalThis);
    if (this.transport === "websocket" && !this.WS) this.transport = "sse";
  }

  start(): void {
    if (this.transport === "websocket") void this.connect();
    else this.setStatus(this.online() ? "open" : "offline");
  }

  /** Queue a message; it is sent when the connection is ready and no other reply is streaming. */
  send(id: string, text: string, mode?: string): "sending" | "queued" {
    if (this.finished.has(id) || this.inflight?.id === id || this.queue.some((m) => m.id === id)) {
      return "queued"; // a duplicate send of one message id is absorbed here
    }
    this.queue.push({ id, text, mode, wireId: id, attempt: 0 });
    this.options.handlers.onMessageState?.(id, "queued");
    this.pump();
    return this.inflight?.id === id ? "sending" : "queued";
  }

  /** Stop the reply to `id` (or drop it from the queue if it has not gone out yet). */
  cancel(id: string): void {
    const queued = this.queue.findIndex((m) => m.id === id);
    if (queued !== -1) {
      this.queue.splice(queued, 1);
      this.finish(id);
      return;
    }
    if (this.inflight?.id !== id) return;
    if (this.transport === "websocket" && this.socket?.readyState === 1) {
      this.socket.send(JSON.stringify({ type: "cancel", id: this.inflight.wireId }));
    } else if (this.sseAbort) {
      this.sseAbort.abort(); // closing the SSE request cancels the reply on the server
    }
  }

  /** The browser came back online: try at once instead of waiting out the backoff. */
  wake(): void {
    if (this.closed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    if (this.transport === "websocket" && !this.socket) void this.connect();
    else this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.openTimer) clearTimeout(this.openTimer);
    this.sseAbort?.abort();
    this.socket?.close(1000);
    this.socket = null;
    this.setStatus("closed");
  }

  get pending(): number {
    return this.queue.length + (this.inflight ? 1 : 0);
  }

  // ------------------------------------------------------------------ internals

  private online(): boolean {
    return this.options.isOnline ? this.options.isOnline() : globalThis.navigator?.onLine !== false;
  }

  private setStatus(status: ConnectionStatus): void {
    this.status = status;
    this.options.handlers.onStatus(status, this.transport);
  }

  private pump(): void {
    if (this.closed || this.inflight || !this.queue.length) return;
    if (this.transport === "websocket") {
      if (this.status !== "open" || this.socket?.readyState !== 1) return;
      this.inflight = this.queue.shift() ?? null;
      if (!this.inflight) return;
      this.options.handlers.onMessageState?.(this.inflight.id, "sending");
      const { wireId, text, mode } = this.inflight;
      this.socket.send(JSON.stringify({ type: "message", id: wireId, text, ...(mode ? { mode } : {}) }));
    } else {
      if (!this.online()) {
        this.setStatus("offline");
        return;
      }
      this.inflight = this.queue.shift() ?? null;
      if (this.inflight) void this.postSse(this.inflight);
    }
  }

  private deliver(wireEvent: TutorEvent): void {
    const inflight = this.inflight;
    if (!inflight || wireEvent.message_id !== inflight.wireId) return; // stale: an earlier attempt or connection
    const id = inflight.id;
    if (this.finished.has(id)) return;
    const event = { ...wireEvent, message_id: id } as TutorEvent;
    if (event.type === "error" && RETRYABLE_ERRORS.has(event.code) && this.transport === "sse") {
      // A transient failure before the reply started: ask again later under a fresh wire id.
      this.requeueInflight();
      this.scheduleRetry(event.retry_after ? event.retry_after * 1000 : undefined);
      return;
    }
    this.options.handlers.onEvent(event);
    if (TERMINAL.has(event.type)) {
      this.finish(id);
      this.inflight = null;
      this.pump();
    }
  }

  private finish(id: string): void {
    this.finished.add(id);
    this.options.handlers.onMessageState?.(id, "finished");
  }

  private requeueInflight(): void {
    if (!this.inflight) return;
    const again = this.inflight;
    again.attempt += 1;
    again.wireId = `${again.id}.r${again.attempt}`;
    this.inflight = null;
    this.queue.unshift(again);
    this.options.handlers.onReset(again.id);
    this.options.handlers.onMessageState?.(again.id, "queued");
  }

  private backoff(hintMs?: number): number {
    const initial = this.options.initialBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 15_000;
    const base = Math.min(max, initial * 2 ** this.attempt);
    this.attempt += 1;
    const jittered = base / 2 + (this.options.random ?? Math.random)() * (base / 2); // "equal jitter"
    return Math.max(hintMs ?? 0, jittered);
  }

  private scheduleRetry(hintMs?: number): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.backoff(hintMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.transport === "websocket") void this.connect();
      else this.pump();
    }, delay);
  }

  // ---------------------------------------------------------------- WebSocket

  private async connect(): Promise<void> {
    if (this.closed) return;
    if (!this.online()) {
      this.setStatus("offline");
      return; // wake() reconnects when the browser is back online
    }
    this.setStatus(this.everOpened ? "reconnecting" : "connecting");
    const token = await this.options.getToken();
    if (this.closed) return;
    let socket: WebSocket;
    try {
      socket = new this.WS(this.options.websocketUrl);
    } catch {
      this.onSocketFailed(false);
      return;
    }
    this.socket = socket;
    let opened = false;
    this.openTimer = setTimeout(() => {
      if (!opened) socket.close(); // a proxy that swallows the upgrade: count as a failed open
    }, this.options.openTimeoutMs ?? 5_000);
    socket.onopen = () => {
      opened = true;
      if (this.openTimer) clearTimeout(this.openTimer);
      socket.send(JSON.stringify({ type: "auth", token: token ?? "" }));
      this.everOpened = true;
      this.failedOpens = 0;
      this.attempt = 0;
      this.setStatus("open");
      this.pump();
    };
    socket.onmessage = (message: MessageEvent) => {
      let event: TutorEvent;
      try {
        event = JSON.parse(String(message.data)) as TutorEvent;
      } catch {
        return;
      }
      this.deliver(event);
    };
    socket.onclose = (close: CloseEvent) => {
      if (this.openTimer) clearTimeout(this.openTimer);
      if (this.socket === socket) this.socket = null;
      void this.onSocketClosed(close.code, opened);
    };
  }

  private async onSocketClosed(code: number, opened: boolean): Promise<void> {
    if (this.closed) return;
    if (code === 4401) {
      if (!this.refreshedOnce && (await this.options.refreshToken())) {
        this.refreshedOnce = true;
        this.requeueInflight();
        void this.connect();
        return;
      }
      this.setStatus("unauthorized");
      return;
    }
    if (code === 4403 || code === 4404) {
      this.setStatus("closed");
      return;
    }
    this.onSocketFailed(opened);
  }

  private onSocketFailed(opened: boolean): void {
    this.requeueInflight();
    if (!opened && !this.everOpened) {
      this.failedOpens += 1;
      if (this.failedOpens >= (this.options.wsFailuresBeforeSse ?? 2)) {
        this.transport = "sse"; // WebSockets look blocked on this network: use SSE from now on
        this.attempt = 0;
        this.setStatus(this.online() ? "open" : "offline");
        this.pump();
        return;
      }
    }
    this.setStatus("reconnecting");
    this.scheduleRetry();
  }

  // ---------------------------------------------------------------- SSE

  private async postSse(message: Outgoing, retried = false): Promise<void> {
    const abort = new AbortController();
    this.sseAbort = abort;
    let response: Response;
    try {
      const token = await this.options.getToken();
      response = await this.doFetch(this.options.messagesUrl, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/event-stream",
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ text: message.text, id: message.wireId, ...(message.mode ? { mode: message.mode } : {}) }),
        signal: abort.signal,
      });
    } catch {
      this.sseFailed(message, abort);
      return;
    }
    if (response.status === 401 && !retried && (await this.options.refreshToken())) {
      return this.postSse(message, true);
    }
    if (!response.ok || !response.body) {
      await this.sseRefused(message, response);
      return;
    }
    this.setStatus("open");
    this.attempt = 0;
    try {
      await readEventStream(response.body, (sse) => {
        const parsed = JSON.parse(sse.data) as Record<string, unknown>;
        this.deliver({ ...parsed, type: sse.event, message_id: message.wireId } as TutorEvent);
      });
    } catch {
      if (!abort.signal.aborted) {
        this.sseFailed(message, abort);
        return;
      }
    }
    if (this.sseAbort === abort) this.sseAbort = null;
    if (this.inflight?.id === message.id) {
      // The stream ended without a terminal event: cancelled by us, or cut off. Cut off: retry the same id.
      if (abort.signal.aborted) {
        this.deliverLocal({ type: "done", message_id: message.wireId, status: "cancelled" });
      } else {
        this.sseFailed(message, abort);
      }
    }
  }

  private sseFailed(message: Outgoing, abort: AbortController): void {
    if (abort.signal.aborted && this.inflight?.id === message.id) {
      this.deliverLocal({ type: "done", message_id: message.wireId, status: "cancelled" });
      return;
    }
    this.requeueInflight();
    this.setStatus(this.online() ? "reconnecting" : "offline");
    this.scheduleRetry();
  }

  private async sseRefused(message: Outgoing, response: Response): Promise<void> {
    if (response.status === 401) {
      this.requeueInflight();
      this.setStatus("unauthorized");
      return;
    }
    if (response.status === 429 || response.status >= 500) {
      const retryAfter = Number(response.headers.get("retry-after") ?? "0") * 1000;
      this.requeueInflight();
      this.setStatus("reconnecting");
      this.scheduleRetry(retryAfter || undefined);
      return;
    }
    let detail = `The tutor could not take this message (HTTP ${response.status}).`;
    try {
      const problem = (await response.json()) as { detail?: string };
      if (problem.detail) detail = problem.detail;
    } catch {
      /* not JSON: keep the generic sentence */
    }
    this.deliver({ type: "error", code: "invalid_message", detail, message_id: message.wireId } as TutorEvent);
  }

  /** A terminal event made up by the client (the user cancelled an SSE reply before the server's done). */
  private deliverLocal(partial: { type: "done"; message_id: string; status: string }): void {
    const event = {
      interaction_id: "",
      usage: { input_tokens: 0, output_tokens: 0 },
      confidence: 0,
      guardrails: [],
      budget: { remaining_tokens: -1 },
      provider: "",
      provider_label: "",
      model: "",
      prompt_version: "",
      sources: [],
      ...partial,
    } as TutorEvent;
    this.deliver(event);
  }
}

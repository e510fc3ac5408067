/**
 * The instructors' live review feed: WebSocket first, SSE when sockets are blocked, and on every
 * reconnect it resumes after the last event it handed over (`since` / `Last-Event-ID`), so nothing is
 * missed and nothing is shown twice.
 */
import type { components } from "../api/schema";
import { readEventStream } from "./sse";

/** One event of each type on the bus, generated from the server's payload structs (app/lib/event_payloads.py). */
export type TypedFeedEvent = components["schemas"]["FeedReplay"]["items"][number];
export type FeedEventType = TypedFeedEvent["type"];
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/**
 * An event as the feed hands it over: `data` holds the fields of its type's payload (each optional
 * here, so one renderer can read any type); `type` may also be one this build does not know yet.
 */
export interface FeedEvent {
  id: string;
  type: FeedEventType | (string & {});
  org_id: string;
  at: string;
  data: Partial<UnionToIntersection<TypedFeedEvent["data"]>>;
}

export type FeedStatus = "connecting" | "live" | "reconnecting" | "unauthorized" | "forbidden" | "closed";

export interface FeedOptions {
  websocketUrl: string; // absolute ws(s):// URL of /v1/review/feed
  sseUrl: string; // same path, for the SSE fallback
  getToken(): Promise<string | null>;
  refreshToken(): Promise<boolean>;
  onEvent(event: FeedEvent): void;
  onStatus(status: FeedStatus, transport: "websocket" | "sse"): void;
  WebSocketImpl?: typeof WebSocket;
  fetchImpl?: typeof fetch;
  random?: () => number;
  replay?: number;
}

export class FeedStream {
  private lastId: string | null = null;
  private readonly seen = new Set<string>();
  private socket: WebSocket | null = null;
  private abort: AbortController | null = null;
  private transport: "websocket" | "sse" = "websocket";
  private attempt = 0;
  private everOpened = false;
  private failedOpens = 0;
  private refreshed = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly options: FeedOptions) {}

  start(): void {
    void this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
    this.socket?.close(1000);
    this.options.onStatus("closed", this.transport);
  }

  private deliver(event: FeedEvent): void {
    if (!event.id || this.seen.has(event.id)) return;
    this.seen.add(event.id);
    if (this.seen.size > 5000) this.seen.clear(); // ids only grow; `since` already prevents replays
    this.lastId = event.id;
    this.options.onEvent(event);
  }

  private query(): string {
    const params = new URLSearchParams();
    if (this.lastId) params.set("since", this.lastId);
    else params.set("limit", String(this.options.replay ?? 50));
    return params.toString();
  }

  private retry(): void {
    if (this.closed || this.timer) return;
    const base = Math.min(15_000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + (this.options.random ?? Math.random)() * (base / 2);
    this.options.onStatus("reconnecting", this.transport);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    if (this.transport === "sse") return this.connectSse();
    this.options.onStatus(this.everOpened ? "reconnecting" : "connecting", "websocket");
    const token = await this.options.getToken();
    const WS = this.options.WebSocketImpl ?? globalThis.WebSocket;
    let opened = false;
    const socket = new WS(`${this.options.websocketUrl}?${this.query()}`);
    this.socket = socket;
    socket.onopen = () => {
      opened = true;
      this.everOpened = true;
      socket.send(JSON.stringify({ type: "auth", token: token ?? "" }));
    };
    socket.onmessage = (message: MessageEvent) => {
      const frame = JSON.parse(String(message.data)) as FeedEvent & { type: string };
      if (frame.type === "ready") {
        this.attempt = 0;
        this.options.onStatus("live", "websocket");
      } else if (frame.type !== "ping") {
        this.deliver(frame);
      }
    };
    socket.onclose = (close: CloseEvent) => {
      if (this.socket === socket) this.socket = null;
      void this.onClose(close.code, opened);
    };
  }

  private async onClose(code: number, opened: boolean): Promise<void> {
    if (this.closed) return;
    if (code === 4401) {
      if (!this.refreshed && (await this.options.refreshToken())) {
        this.refreshed = true;
        void this.connect();
      } else {
        this.options.onStatus("unauthorized", this.transport);
      }
      return;
    }
    if (code === 4403) {
      this.options.onStatus("forbidden", this.transport);
      return;
    }
    if (!opened && !this.everOpened && ++this.failedOpens >= 2) {
      this.transport = "sse"; // upgrades look blocked on this network
      void this.connect();
      return;
    }
    this.retry();
  }

  private async connectSse(): Promise<void> {
    this.options.onStatus(this.attempt ? "reconnecting" : "connecting", "sse");
    const abort = new AbortController();
    this.abort = abort;
    const token = await this.options.getToken();
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (this.lastId) headers["Last-Event-ID"] = this.lastId;
    try {
      const doFetch = this.options.fetchImpl ?? globalThis.fetch.bind(globalThis);
      const response = await doFetch(`${this.options.sseUrl}?${this.query()}`, { headers, signal: abort.signal });
      if (response.status === 401) {
        if (!this.refreshed && (await this.options.refreshToken())) {
          this.refreshed = true;
          return this.connectSse();
        }
        this.options.onStatus("unauthorized", "sse");
        return;
      }
      if (response.status === 403) {
        this.options.onStatus("forbidden", "sse");
        return;
      }
      if (!response.ok || !response.body) throw new Error(`feed answered ${response.status}`);
      await readEventStream(response.body, (message) => {
        if (message.event === "ready") {
          this.attempt = 0;
          this.options.onStatus("live", "sse");
        } else if (message.event !== "closed") {
          this.deliver(JSON.parse(message.data) as FeedEvent);
        }
      });
    } catch {
      if (abort.signal.aborted) return;
    }
    this.retry(); // the stream ended (slow consumer, restart, network): resume after the last id
  }
}

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { TutorStream, type StreamOptions, type TutorEvent } from "./tutorStream";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((c: { code: number }) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000) {
    this.drop(code);
  }
  // test helpers
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(event: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(event) });
  }
  drop(code = 1006) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code });
  }
  messages() {
    return this.sent.filter((f) => f.type === "message");
  }
}

const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;
const done = (message_id: string, extra: Record<string, unknown> = {}) => ({
  type: "done",
  message_id,
  interaction_id: "i-1",
  usage: { input_tokens: 1, output_tokens: 2 },
  confidence: 0.9,
  guardrails: [],
  budget: { remaining_tokens: 100 },
  status: "completed",
  ...extra,
});

function harness(overrides: Partial<StreamOptions> = {}) {
  const events: TutorEvent[] = [];
  const resets: string[] = [];
  const statuses: string[] = [];
  let online = true;
  const stream = new TutorStream({
    websocketUrl: "ws://lyceum.test/v1/tutor/sessions/s/ws",
    messagesUrl: "/v1/tutor/sessions/s/messages",
    getToken: async () => "token-1",
    refreshToken: async () => false,
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    isOnline: () => online,
    random: () => 0.5,
    initialBackoffMs: 100,
    handlers: {
      onEvent: (e) => events.push(e),
      onReset: (id) => resets.push(id),
      onStatus: (s, t) => statuses.push(`${s}/${t}`),
    },
    ...overrides,
  });
  return { stream, events, resets, statuses, setOnline: (v: boolean) => (online = v) };
}

async function flush() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe("TutorStream over WebSocket", () => {
  it("authenticates in the first frame and sends one message at a time", async () => {
    const { stream, events } = harness();
    stream.start();
    await flush();
    last().open();
    expect(last().sent[0]).toEqual({ type: "auth", token: "token-1" });
    stream.send("a", "first");
    stream.send("b", "second");
    expect(last().messages()).toEqual([{ type: "message", id: "a", text: "first" }]);
    last().receive({ type: "delta", text: "Hel", message_id: "a" });
    last().receive({ type: "delta", text: "lo", message_id: "a" });
    last().receive(done("a"));
    expect(last().messages().map((m) => m.id)).toEqual(["a", "b"]);
    expect(events.map((e) => e.type)).toEqual(["delta", "delta", "done"]);
  });

  it("ignores duplicate and stale events, and a second send of the same id", async () => {
    const { stream, events } = harness();
    stream.start();
    await flush();
    last().open();
    stream.send("a", "hi");
    stream.send("a", "hi");
    last().receive({ type: "delta", text: "x", message_id: "zzz" });
    last().receive(done("a"));
    last().receive(done("a"));
    last().receive({ type: "delta", text: "late", message_id: "a" });
    expect(last().messages()).toHaveLength(1);
    expect(events.map((e) => e.type)).toEqual(["done"]);
  });

  it("reconnects with backoff after a drop and asks again under a fresh wire id, without duplicates", async () => {
    const { stream, events, resets, statuses } = harness();
    stream.start();
    await flush();
    last().open();
    stream.send("a", "explain");
    const first = last();
    first.receive({ type: "delta", text: "partial ", message_id: "a" });
    first.drop(1006);
    expect(resets).toEqual(["a"]);
    expect(statuses.at(-1)).toBe("reconnecting/websocket");
    vi.advanceTimersByTime(40); // equal jitter with random 0.5: the first retry waits 75 ms
    await flush();
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(40);
    await flush();
    expect(FakeSocket.all).toHaveLength(2);
    last().open();
    expect(last().messages()).toEqual([{ type: "message", id: "a.r1", text: "explain" }]);
    first.receive({ type: "delta", text: "ghost", message_id: "a" }); // the old connection is gone
    last().receive({ type: "delta", text: "whole answer", message_id: "a.r1" });
    last().receive(done("a.r1"));
    const texts = events.filter((e) => e.type === "delta").map((e) => (e as { text: string }).text);
    expect(texts).toEqual(["partial ", "whole answer"]); // the UI cleared "partial " on reset
    expect(events.every((e) => e.message_id === "a")).toBe(true);
  });

  it("backs off exponentially while the server stays away", async () => {
    const { stream } = harness();
    stream.start();
    await flush();
    last().open();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const before = FakeSocket.all.length;
      last().drop(1006);
      let waited = 0;
      while (FakeSocket.all.length === before) {
        vi.advanceTimersByTime(5);
        waited += 5;
        await flush();
      }
      delays.push(waited);
    }
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
    expect(delays[3]!).toBeGreaterThan(delays[2]!);
  });

  it("falls back to SSE when sockets never open, and streams the reply from the POST", async () => {
    const fetchImpl = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      const body = JSON.parse(String(init?.body)) as { id: string };
      const sse = `event: delta\ndata: {"text":"Hi"}\n\nevent: done\ndata: ${JSON.stringify(done(body.id))}\n\n`;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(sse));
          controller.close();
        },
      });
      return { ok: true, status: 200, body: stream, headers: new Headers() } as unknown as Response;
    });
    const { stream, events, statuses } = harness({ fetchImpl: fetchImpl as unknown as typeof fetch });
    stream.start();
    await flush();
    stream.send("a", "hello");
    last().drop(1006); // refused before opening
    vi.advanceTimersByTime(200);
    await flush();
    last().drop(1006);
    vi.useRealTimers();
    await vi.waitFor(() => expect(events.map((e) => e.type)).toEqual(["delta", "done"]));
    expect(statuses).toContain("open/sse");
    const [url, init] = fetchImpl.mock.calls[0]!;
    expect(url).toBe("/v1/tutor/sessions/s/messages");
    expect((init?.headers as Record<string, string>).Accept).toBe("text/event-stream");
    expect(events[1]!.message_id).toBe("a");
  });

  it("holds messages while offline and sends them when the browser is back", async () => {
    const { stream, statuses, setOnline } = harness();
    setOnline(false);
    stream.start();
    await flush();
    expect(FakeSocket.all).toHaveLength(0);
    expect(statuses.at(-1)).toBe("offline/websocket");
    expect(stream.send("a", "queued while offline")).toBe("queued");
    expect(stream.pending).toBe(1);
    setOnline(true);
    stream.wake();
    await flush();
    last().open();
    expect(last().messages()).toEqual([{ type: "message", id: "a", text: "queued while offline" }]);
  });

  it("refreshes the token once on 4401, then reports that sign-in is needed", async () => {
    const refreshToken = vi.fn(async () => true);
    const { stream, statuses } = harness({ refreshToken });
    stream.start();
    await flush();
    last().open();
    last().drop(4401);
    await flush();
    expect(refreshToken).toHaveBeenCalledTimes(1);
    expect(FakeSocket.all).toHaveLength(2);
    last().open();
    last().drop(4401);
    await flush();
    expect(statuses.at(-1)).toBe("unauthorized/websocket");
  });

  it("cancels the reply on the wire with the current wire id", async () => {
    const { stream } = harness();
    stream.start();
    await flush();
    last().open();
    stream.send("a", "long answer please");
    stream.cancel("a");
    expect(last().sent.at(-1)).toEqual({ type: "cancel", id: "a" });
  });
});

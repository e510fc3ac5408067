import { describe, expect, it } from "vitest";

import { readEventStream, SseParser } from "./sse";

describe("SseParser", () => {
  it("parses events split across chunks and skips comments", () => {
    const parser = new SseParser();
    expect(parser.push(": ping\n\nevent: delta\ndata: {\"text\":")).toEqual([]);
    expect(parser.push('"Hi"}\n\nevent: done\r\ndata: {}\r\n\r\n')).toEqual([
      { event: "delta", data: '{"text":"Hi"}', id: undefined },
      { event: "done", data: "{}", id: undefined },
    ]);
  });

  it("joins multi-line data and reads ids", () => {
    expect(new SseParser().push("id: 7\ndata: a\ndata: b\n\n")).toEqual([{ event: "message", data: "a\nb", id: "7" }]);
  });

  it("reads a whole body stream, including a last event without a blank line", async () => {
    const bytes = new TextEncoder().encode("event: delta\ndata: 1\n\nevent: done\ndata: 2");
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 9));
        controller.enqueue(bytes.slice(9));
        controller.close();
      },
    });
    const seen: string[] = [];
    await readEventStream(body, (m) => seen.push(`${m.event}:${m.data}`));
    expect(seen).toEqual(["delta:1", "done:2"]);
  });
});

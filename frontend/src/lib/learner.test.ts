// @vitest-environment jsdom
import { describe, expect, it } from "vitest";

import { renderInlineMarkdown } from "./markdown";
import { followSubmission } from "./submissionStream";

describe("renderInlineMarkdown", () => {
  it("renders backticks and emphasis in quiz text instead of showing them", () => {
    const div = document.createElement("div");
    div.innerHTML = renderInlineMarkdown("Which status is `201 Created`, *really*?");
    expect(div.querySelector("code")?.textContent).toBe("201 Created");
    expect(div.querySelector("em")?.textContent).toBe("really");
    expect(div.textContent).not.toContain("`");
  });

  it("drops anything executable and every block element", () => {
    const div = document.createElement("div");
    div.innerHTML = renderInlineMarkdown("<img src=x onerror=alert(1)> [x](javascript:alert(1)) <script>alert(1)</script>\n\n# h");
    expect(div.querySelector("img, script, p, h1, [onerror]")).toBeNull();
    expect(div.querySelector("a")?.getAttribute("href")).toBeNull();
  });
});

function body(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  });
}

describe("followSubmission", () => {
  it("hands over each state and stops once graded, reconnecting after a dropped stream", async () => {
    const calls: string[] = [];
    const responses = [
      new Response(body('event: submission\ndata: {"status":"in_review"}\n\n'), { status: 200 }),
      new Response(body(': ping\n\nevent: submission\ndata: {"status":"in_review"}\n\nevent: submission\ndata: {"status":"graded"}\n\n'), { status: 200 }),
    ];
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      followSubmission<{ status: string }>({
        submissionId: "s-1",
        getToken: async () => "tok",
        refreshToken: async () => false,
        fetchImpl: (async (url: string, init: RequestInit) => {
          calls.push(`${url} ${(init.headers as Record<string, string>).Authorization}`);
          return responses.shift()!;
        }) as unknown as typeof fetch,
        onUpdate: (s) => {
          seen.push(s.status);
          if (s.status === "graded") resolve();
        },
      });
    });
    await done;
    expect(seen).toEqual(["in_review", "in_review", "graded"]);
    expect(calls).toEqual(["/v1/submissions/s-1/events Bearer tok", "/v1/submissions/s-1/events Bearer tok"]);
  });
});

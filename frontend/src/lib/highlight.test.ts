import { describe, expect, it } from "vitest";

import { emphasisSegments, snippetSegments, unescapeHtml } from "./highlight";

describe("snippetSegments", () => {
  it("splits marked words from the text and decodes entities", () => {
    expect(snippetSegments("use a <mark>token</mark> bucket &lt;b&gt; &amp; <mark>limit</mark>")).toEqual([
      { text: "use a ", marked: false },
      { text: "token", marked: true },
      { text: " bucket <b> & ", marked: false },
      { text: "limit", marked: true },
    ]);
  });

  it("never turns other markup into elements: it stays text", () => {
    const segments = snippetSegments("<img src=x onerror=alert(1)> &lt;script&gt;");
    expect(segments).toEqual([{ text: "<img src=x onerror=alert(1)> <script>", marked: false }]);
  });

  it("drops Markdown's bold and code marks from the preview", () => {
    expect(snippetSegments("a **<mark>cache</mark> stampede** and `redis.get`")).toEqual([
      { text: "a ", marked: false },
      { text: "cache", marked: true },
      { text: " stampede and redis.get", marked: false },
    ]);
  });

  it("handles an empty snippet", () => {
    expect(snippetSegments("")).toEqual([]);
  });
});

describe("emphasisSegments", () => {
  it("emphasises the text between asterisks", () => {
    expect(emphasisSegments("You struggled with *idempotency keys* in Quiz; this lesson covers it")).toEqual([
      { text: "You struggled with ", marked: false },
      { text: "idempotency keys", marked: true },
      { text: " in Quiz; this lesson covers it", marked: false },
    ]);
    expect(emphasisSegments("Next in the pathway")).toEqual([{ text: "Next in the pathway", marked: false }]);
  });
});

describe("unescapeHtml", () => {
  it("decodes only what html.escape produces", () => {
    expect(unescapeHtml("&amp;lt; &quot;a&quot; &#x27;b&#x27; &nbsp;")).toBe("&lt; \"a\" 'b' &nbsp;");
  });
});

// @vitest-environment jsdom
import { describe, expect, it } from "vitest";

import { renderMarkdown } from "./markdown";

function dom(html: string): HTMLElement {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div;
}

describe("renderMarkdown", () => {
  it("renders emphasis, lists and highlighted code", () => {
    const html = dom(renderMarkdown("**bold** and `code`\n\n- one\n- two\n\n```python\nprint('hi')\n```"));
    expect(html.querySelector("strong")?.textContent).toBe("bold");
    expect(html.querySelectorAll("li")).toHaveLength(2);
    const code = html.querySelector("pre.code code");
    expect(code?.textContent).toBe("print('hi')");
    expect(code?.querySelector(".hljs-built_in, .hljs-string")).not.toBeNull();
  });

  it.each([
    ['<img src=x onerror="alert(1)">', "img"],
    ["<script>alert(1)</script>", "script"],
    ['<iframe src="https://evil.test"></iframe>', "iframe"],
    ['<a href="#" onclick="steal()">x</a>', "[onclick]"],
    ['<div style="position:fixed">overlay</div>', "[style]"],
    ["<svg><script>alert(1)</script></svg>", "svg"],
    ['<form action="https://evil.test"><input name=p></form>', "form"],
  ])("never produces live HTML from %s", (source, selector) => {
    const html = dom(renderMarkdown(source));
    expect(html.querySelector(selector)).toBeNull();
  });

  it("drops javascript: and data: links but keeps safe ones, opening them in a new tab", () => {
    const html = dom(renderMarkdown("[a](javascript:alert(1)) [b](data:text/html,hi) [c](https://example.org/x)"));
    const hrefs = [...html.querySelectorAll("a")].map((a) => a.getAttribute("href"));
    expect(hrefs.filter((h) => h && /^(javascript|data):/i.test(h))).toHaveLength(0);
    const safe = [...html.querySelectorAll("a")].find((a) => a.getAttribute("href") === "https://example.org/x");
    expect(safe?.getAttribute("rel")).toContain("noopener");
    expect(safe?.getAttribute("target")).toBe("_blank");
  });

  it("shows raw HTML as text and copes with half-streamed Markdown", () => {
    expect(dom(renderMarkdown("Use <b>tags</b> carefully")).textContent).toContain("<b>tags</b>");
    expect(() => renderMarkdown("```python\ndef f(")).not.toThrow();
    expect(dom(renderMarkdown("**unfinished")).textContent).toContain("unfinished");
  });

  it("makes wide code blocks and tables keyboard-scrollable regions (WCAG 2.1.1)", () => {
    const html = dom(renderMarkdown("```python\nx = 1\n```\n\n| a | b |\n|---|---|\n| c | d |\n"));
    expect(html.querySelector("pre.code")?.getAttribute("tabindex")).toBe("0");
    const region = html.querySelector("div.table-scroll");
    expect(region?.getAttribute("tabindex")).toBe("0");
    expect(region?.getAttribute("role")).toBe("region");
    expect(region?.querySelector("table")).not.toBeNull();
  });
});

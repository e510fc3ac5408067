/**
 * Markdown for lesson text and tutor replies, rendered safely.
 *
 * Model output and course text are untrusted: marked turns Markdown into HTML, DOMPurify removes anything
 * executable (script, event handlers, javascript: URLs, iframes, forms, styles), and links open in a new
 * tab without access to this window. Code blocks are highlighted with a small set of languages.
 */
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import yaml from "highlight.js/lib/languages/yaml";
import { Marked } from "marked";

for (const [name, language] of Object.entries({ bash, javascript, json, python, sql, typescript, yaml })) {
  hljs.registerLanguage(name, language);
}
hljs.registerAliases(["sh", "shell"], { languageName: "bash" });
hljs.registerAliases(["js"], { languageName: "javascript" });
hljs.registerAliases(["ts"], { languageName: "typescript" });
hljs.registerAliases(["py"], { languageName: "python" });

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const language = (lang ?? "").trim().split(/\s+/)[0]?.toLowerCase() ?? "";
      const known = language && hljs.getLanguage(language);
      const body = known ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text);
      const label = known ? ` data-language="${escapeHtml(language)}"` : "";
      return `<pre class="code"${label}><code class="hljs">${body}</code></pre>`;
    },
    html({ text }) {
      return escapeHtml(text); // raw HTML in Markdown is shown as text, never interpreted
    },
  },
});

let hooked = false;
function purifier(): typeof DOMPurify {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
      // Code blocks and tables scroll sideways when wide; keyboard users must reach that scroll (WCAG 2.1.1).
      if ((node.tagName === "PRE" && node.classList.contains("code")) || node.classList.contains("table-scroll")) {
        node.setAttribute("tabindex", "0");
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

/** Wide tables scroll in a keyboard-reachable region instead of squeezing words apart. */
function scrollableTables(html: string): string {
  return html
    .replace(/<table>/g, '<div class="table-scroll" role="region" aria-label="Table"><table>')
    .replace(/<\/table>/g, "</table></div>");
}

/** Markdown → sanitised HTML, safe to assign to innerHTML. Partial Markdown (mid-stream) is fine. */
export function renderMarkdown(source: string): string {
  const html = scrollableTables(marked.parse(source, { async: false }));
  return purifier().sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "iframe", "object", "embed", "img", "svg", "math"],
    FORBID_ATTR: ["style"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/(?!\/))/i,
  });
}

/** Inline Markdown (no paragraphs or blocks) → sanitised HTML: for quiz questions and options, where
 * `code`, *emphasis* and links should render rather than show their backticks and asterisks. */
export function renderInlineMarkdown(source: string): string {
  const html = marked.parseInline(source, { async: false });
  return purifier().sanitize(html, {
    ALLOWED_TAGS: ["code", "em", "strong", "del", "a", "br", "span", "sub", "sup"],
    ALLOWED_ATTR: ["href", "title", "target", "rel", "class"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/(?!\/))/i,
  });
}

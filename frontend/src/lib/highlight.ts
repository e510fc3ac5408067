/**
 * Safe rendering of the two bits of markup the API sends in text: search snippets (HTML-escaped text with
 * `<mark>…</mark>` around matched words) and recommendation reasons (plain text with `*emphasis*`).
 * Neither is ever inserted as HTML: both are rebuilt as text segments that React escapes, so a snippet that
 * somehow held another tag shows it as text.
 */

export interface Segment {
  text: string;
  marked: boolean;
}

const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

/** Undo the server's HTML escaping (only the entities html.escape produces). */
export function unescapeHtml(text: string): string {
  return text.replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (entity) => ENTITIES[entity] ?? entity);
}

/** A snippet as segments: marked words and the text between them, entities decoded. */
export function snippetSegments(snippet: string): Segment[] {
  const segments: Segment[] = [];
  const pattern = /<mark>(.*?)<\/mark>/gs;
  let last = 0;
  for (const match of snippet.matchAll(pattern)) {
    const at = match.index ?? 0;
    if (at > last) segments.push({ text: unescapeHtml(snippet.slice(last, at)), marked: false });
    segments.push({ text: unescapeHtml(match[1] ?? ""), marked: true });
    last = at + match[0].length;
  }
  if (last < snippet.length) segments.push({ text: unescapeHtml(snippet.slice(last)), marked: false });
  // Passages are Markdown: bold marks and code ticks are noise in a one-line preview (`__init__` stays).
  return segments.map((s) => ({ ...s, text: s.text.replace(/\*\*|`/g, "") })).filter((s) => s.text.length > 0);
}

/** A reason as segments: the parts between pairs of asterisks are emphasised. */
export function emphasisSegments(reason: string): Segment[] {
  return reason
    .split("*")
    .map((text, index) => ({ text, marked: index % 2 === 1 }))
    .filter((s) => s.text.length > 0);
}

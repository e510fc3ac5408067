import { describe, expect, it } from "vitest";

import { markersFor, type Marker, readForm, statusLabel, writeField, yamlErrorsOf } from "./model";

const DOC = "slug: a-course\ntitle: A course\nsummary: |\n  Two lines\n  of summary.\nlevel: beginner\ntags: [x, y]\nmodules: []\n";

describe("markersFor", () => {
  it("marks the whole line of each error, with its path", () => {
    const marker = markersFor(DOC, [{ path: "title", line: 2, message: "too short" }])[0]!;
    expect(DOC.slice(marker.from, marker.to)).toBe("title: A course");
    expect(marker.message).toBe("title: too short");
    expect(marker.line).toBe(2);
  });

  it("puts an error without a line, or past the end, on the first or last line", () => {
    const [first, last] = markersFor("a: 1\nb: 2", [
      { path: "$", line: null, message: "file is empty" },
      { path: "$", line: 99, message: "late" },
    ]) as [Marker, Marker];
    expect([first.from, first.to, first.message]).toEqual([0, 4, "file is empty"]);
    expect([last.from, last.to, last.line]).toEqual([5, 9, 2]);
  });
});

describe("yamlErrorsOf", () => {
  it("reads the server's 422 errors and ignores anything else", () => {
    expect(yamlErrorsOf({ errors: [{ path: "slug", line: 1, message: "bad" }, { nope: 1 }] })).toEqual([
      { path: "slug", line: 1, message: "bad" },
    ]);
    expect(yamlErrorsOf({ detail: "x" })).toEqual([]);
    expect(yamlErrorsOf(null)).toEqual([]);
  });
});

describe("form view", () => {
  it("reads the common fields (block values left to the YAML)", () => {
    expect(readForm(DOC)).toEqual({ title: "A course", summary: "", level: "beginner", tags: "x, y", estimated_hours: "" });
  });

  it("writes a field in place, replacing a block value, and keeps the rest", () => {
    const next = writeField(DOC, "summary", 'One line: with "quotes"');
    expect(next).toContain('summary: "One line: with \\"quotes\\""\nlevel: beginner');
    expect(next).not.toContain("of summary.");
    expect(readForm(next).summary).toBe('One line: with "quotes"');
    expect(writeField(DOC, "tags", "a, b ,c")).toContain("tags: [a, b, c]");
  });

  it("adds a missing field after the title", () => {
    expect(writeField(DOC, "estimated_hours", "3")).toContain("title: A course\nestimated_hours: 3\n");
  });
});

describe("statusLabel", () => {
  it("names the three states", () => {
    expect(statusLabel({ status: "draft", published_version: null })).toBe("Draft");
    expect(statusLabel({ status: "published", published_version: 2 })).toBe("Published v2");
    expect(statusLabel({ status: "changes_pending", published_version: 2 })).toContain("changes pending");
  });
});

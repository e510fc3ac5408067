import { describe, expect, it } from "vitest";

// The schema `GET /v1/authoring/schema` answers (tests/unit/courses/test_editor_schema_fixture.py keeps it so).
import fixture from "./courseSchema.fixture.json";
import { completeYaml, type JsonSchema, type YamlCompletions } from "./yamlCompletion";

const SCHEMA = fixture as JsonSchema;
const CURSOR = "‸";

/** Completions where `‸` stands in the document. */
function at(document: string): YamlCompletions | null {
  const offset = document.indexOf(CURSOR);
  return completeYaml(document.slice(0, offset) + document.slice(offset + 1), offset, SCHEMA);
}

const labels = (result: YamlCompletions | null) => result?.options.map((o) => o.label) ?? [];

const COURSE = `slug: sample-course
title: A sample
competencies:
  - slug: basics
    name: The basics
modules:
  - slug: first
    title: First steps
    items:
      - slug: intro
        kind: lesson
        title: Introduction
        bloom_level: remember
        body: |
          Some Markdown.

          More: of it.
      - slug: quiz
        kind: assessment
        title: Quick check
`;

describe("completeYaml: keys", () => {
  it("offers the course's top-level keys not yet present, required ones first", () => {
    const result = at(`slug: x\nmodules: []\n‸`);
    expect(result?.kind).toBe("key");
    expect(result?.path).toEqual([]);
    expect(labels(result)).toEqual([
      "title",
      "competencies",
      "summary",
      "description",
      "level",
      "estimated_hours",
      "tags",
      "credential",
    ]);
    const title = result!.options[0]!;
    expect(title.detail).toBe("text · required");
    expect(title.apply).toBe("title: ");
    const level = result!.options.find((o) => o.label === "level")!;
    expect(level.detail).toBe("advanced | beginner | expert | intermediate · default intermediate");
    const competencies = result!.options.find((o) => o.label === "competencies")!;
    expect(competencies.detail).toBe("list of Competency · required");
    expect(competencies.apply).toBe("competencies:\n  - ");
    expect(result!.options.find((o) => o.label === "credential")!.apply).toBe("credential:\n  ");
  });

  it("completes the word being typed from its start", () => {
    const document = `slug: x\nti‸`;
    const result = at(document);
    expect(result?.from).toBe(document.indexOf("ti"));
    expect(labels(result)).toContain("title");
  });

  it("finds the item at the cursor inside modules[].items[], and leaves out the keys it has", () => {
    const document = COURSE.replace("        title: Quick check\n", "        title: Quick check\n        ‸\n");
    const result = at(document);
    expect(result?.path).toEqual(["modules", 0, "items", 1]);
    const offered = labels(result);
    expect(offered.slice(0, 2)).toEqual(["bloom_level", "body"]); // the required keys still missing
    expect(offered).toContain("assessment");
    expect(offered).toContain("prerequisites");
    for (const present of ["slug", "kind", "title"]) expect(offered).not.toContain(present);
    const prerequisites = result!.options.find((o) => o.label === "prerequisites")!;
    expect(prerequisites.detail).toBe("list of text");
    expect(prerequisites.info).toBe("lower-case letters, digits and dashes");
  });

  it("counts keys written after the cursor as present", () => {
    const document = COURSE.replace("        kind: lesson\n", "        kind: lesson\n        ‸\n");
    const offered = labels(at(document));
    expect(offered).not.toContain("bloom_level");
    expect(offered).not.toContain("body");
    expect(offered).toContain("estimated_minutes");
  });

  it("offers a new list item's keys after `- `", () => {
    const document = `${COURSE}      - ‸`;
    const result = at(document);
    expect(result?.path).toEqual(["modules", 0, "items", 2]);
    expect(labels(result).slice(0, 5)).toEqual(["slug", "kind", "title", "bloom_level", "body"]);
  });

  it("follows nested structures (a competency's BKT parameters)", () => {
    const result = at(`competencies:\n  - slug: basics\n    bkt:\n      prior: 0.3\n      ‸`);
    expect(result?.path).toEqual(["competencies", 0, "bkt"]);
    expect(labels(result)).toEqual(["learn", "slip", "guess"]);
  });

  it("offers the keys every assessment type shares until the type is written, then that type's", () => {
    const undecided = at(`${COURSE}        assessment:\n          ‸`);
    expect(undecided?.path).toEqual(["modules", 0, "items", 1, "assessment"]);
    expect(labels(undecided)).toEqual(["type", "objectives", "graded", "pass_mark", "confidence_threshold"]);
    expect(undecided!.options[0]!.detail).toBe("multiple_choice or short_answer or code · required");

    const code = at(`${COURSE}        assessment:\n          type: code\n          ‸`);
    expect(labels(code)).toContain("hidden_tests");
    expect(labels(code)).toContain("entrypoint");
    expect(labels(code)).not.toContain("questions");
    expect(labels(code)).not.toContain("type");
  });
});

describe("completeYaml: values", () => {
  it("offers the enum values after `bloom_level: `", () => {
    const document = COURSE.replace(
      "        title: Quick check\n",
      "        title: Quick check\n        bloom_level: ‸\n",
    );
    const result = at(document);
    expect(result?.kind).toBe("value");
    expect(result?.path).toEqual(["modules", 0, "items", 1, "bloom_level"]);
    expect(labels(result)).toEqual(["analyze", "apply", "create", "evaluate", "remember", "understand"]);
  });

  it("replaces the value's word being typed", () => {
    const document = `${COURSE}        bloom_level: ap‸`;
    expect(at(document)?.from).toBe(document.indexOf("ap‸"));
  });

  it("offers item kinds, course levels with their default, and true/false", () => {
    expect(labels(at(`${COURSE}      - kind: ‸`))).toEqual(["assessment", "exercise", "lesson"]);
    const level = at(`level: ‸`);
    expect(labels(level)).toEqual(["advanced", "beginner", "expert", "intermediate"]);
    expect(level!.options.find((o) => o.label === "intermediate")).toMatchObject({ detail: "default", boost: 1 });
    const graded = at(`${COURSE}        assessment:\n          type: code\n          graded: ‸`);
    expect(labels(graded)).toEqual(["true", "false"]);
    expect(graded!.options[0]).toMatchObject({ type: "keyword", detail: "default" });
  });

  it("offers the tags of a tagged union as the values of its tag", () => {
    expect(labels(at(`${COURSE}        assessment:\n          type: ‸`))).toEqual([
      "multiple_choice",
      "short_answer",
      "code",
    ]);
  });

  it("offers nothing for a free-text value", () => {
    expect(at(`title: ‸`)).toBeNull();
  });
});

describe("completeYaml: nowhere", () => {
  it("offers nothing inside a block scalar, blank line or not", () => {
    expect(at(COURSE.replace("          Some Markdown.", "          Some Mark‸down."))).toBeNull();
    expect(at(COURSE.replace("          Some Markdown.\n", "          Some Markdown.\n          ‸\n"))).toBeNull();
    expect(at(COURSE.replace("          More: of it.", "          More: ‸"))).toBeNull();
    expect(at(`summary: >-\n  bloom‸`)).toBeNull();
  });

  it("ends the block scalar at a line indented like its key", () => {
    const result = at(COURSE.replace("          More: of it.\n", "          More: of it.\n        ‸\n"));
    expect(result?.path).toEqual(["modules", 0, "items", 0]);
    expect(labels(result)).not.toContain("body");
    // The Markdown's `More: of it.` is not taken for a key of the item.
    expect(labels(result)).toContain("estimated_minutes");
  });

  it("offers nothing in a comment, mid-line, or where the schema has no mapping", () => {
    expect(at(`# a comment ‸`)).toBeNull();
    expect(at(`ti‸tle: x`)).toBeNull();
    expect(at(`modules:\n  ‸`)).toBeNull(); // a list: its items start with `- `
    expect(at(`tags:\n  - ‸`)).toBeNull(); // a list of slugs
    expect(at(`nonsense:\n  ‸`)).toBeNull();
  });

  it("offers nothing once every key is written", () => {
    const full = `slug: a\ntitle: b\nsummary: c\ndescription: d\nlevel: expert\nestimated_hours: 1\ntags: []
competencies: []\nmodules: []\ncredential:\n  criteria: x\n‸`;
    expect(at(full)).toBeNull();
  });
});

import { describe, expect, it } from "vitest";

import {
  checkName,
  credentialKey,
  criteriaText,
  formatDate,
  hue,
  imageUrl,
  initials,
  paragraphs,
  parseVerifyInput,
  slugify,
} from "./credentials";

describe("parseVerifyInput", () => {
  it("reads a credential file as JSON", () => {
    expect(parseVerifyInput(' {"type": ["VerifiableCredential"]} ')).toEqual({ credential: { type: ["VerifiableCredential"] } });
  });
  it("unwraps a verify body pasted whole", () => {
    expect(parseVerifyInput('{"credential": {"id": "x"}}')).toEqual({ credential: { id: "x" } });
  });
  it("sends anything else as a JWT, without the line breaks of a copy", () => {
    expect(parseVerifyInput("eyJh.eyJi\n.sig")).toEqual({ jwt: "eyJh.eyJi.sig" });
  });
  it("says what is wrong with empty input, broken JSON and a JSON array", () => {
    expect(parseVerifyInput("   ")).toHaveProperty("error");
    expect(parseVerifyInput("{nope")).toEqual({ error: expect.stringContaining("valid JSON") });
    expect(parseVerifyInput("{}")).toEqual({ credential: {} });
    expect(parseVerifyInput("[1]")).toEqual({ jwt: "[1]" }); // the server's report says "format" failed
  });
});

describe("badge helpers", () => {
  it("takes an image URL or an OBv3 Image object, and refuses other schemes", () => {
    expect(imageUrl("https://example.org/b.png")).toBe("https://example.org/b.png");
    expect(imageUrl({ id: "/v1/credentials/1/badge.svg" })).toBe("/v1/credentials/1/badge.svg");
    expect(imageUrl("data:image/svg+xml;base64,AAA")).toBe("data:image/svg+xml;base64,AAA");
    expect(imageUrl("javascript:alert(1)")).toBeNull();
    expect(imageUrl(null)).toBeNull();
    expect(imageUrl({})).toBeNull();
  });
  it("draws initials and a stable hue", () => {
    expect(initials("Backend Foundations")).toBe("BF");
    expect(initials("observability")).toBe("OB");
    expect(initials("")).toBe("?");
    expect(hue("Backend Foundations")).toBe(hue("Backend Foundations"));
    expect(hue("x")).toBeGreaterThanOrEqual(0);
    expect(hue("x")).toBeLessThan(360);
  });
  it("splits a narrative into paragraphs, unwrapping lines", () => {
    expect(paragraphs("Awarded to learners who\ncompleted it.\n\n  Second one.\n")).toEqual([
      "Awarded to learners who completed it.",
      "Second one.",
    ]);
    expect(paragraphs("")).toEqual([]);
  });
  it("reads the criteria narrative in either shape", () => {
    expect(criteriaText("Complete every item")).toBe("Complete every item");
    expect(criteriaText({ narrative: "Pass the quiz" })).toBe("Pass the quiz");
    expect(criteriaText(null)).toBe("");
  });
});

describe("credentialKey", () => {
  it("keeps a uuid and takes the last segment of a credential URL", () => {
    expect(credentialKey("0b6f3f5e-1c1b-4a7e-9c53-2f0e5d3c6a11")).toBe("0b6f3f5e-1c1b-4a7e-9c53-2f0e5d3c6a11");
    expect(credentialKey("http://127.0.0.1:8000/credentials/abc/")).toBe("abc");
  });
});

describe("wording", () => {
  it("names checks for people and keeps unknown ones", () => {
    expect(checkName("status")).toBe("Revocation status");
    expect(checkName("signature")).toBe("Signature");
    expect(checkName("something-new")).toBe("something-new");
  });
  it("makes file names and dates", () => {
    expect(slugify("HTTP APIs: the Basics!")).toBe("http-apis-the-basics");
    expect(slugify("???")).toBe("credential");
    expect(formatDate("2026-11-30T10:00:00Z")).toBe("30 November 2026");
    expect(formatDate(null)).toBe("");
    expect(formatDate("not a date")).toBe("");
  });
});

import { describe, expect, it } from "vitest";

import { graderName, humanSignals, policyName, when } from "./wording";

describe("feed wording", () => {
  it("turns guardrail signal codes into words", () => {
    expect(humanSignals("denied: cooking:recipe; course terms 0 of 5 words")).toBe("cooking (recipe)");
    expect(humanSignals("exfiltration:prompt_mention")).toBe("asked for the tutor's hidden instructions (prompt mention)");
    expect(humanSignals("denied: denied:crypto trading; course terms 1 of 9 words")).toBe("a blocked phrase (“crypto trading”)");
    expect(humanSignals("injection 0.93; read with 2 earlier message(s)")).toBe(
      "the safety classifier read it as an attempt to override the tutor's instructions (93% sure)",
    );
    expect(humanSignals("override 0.93; read with 1 earlier message(s)")).toBe(
      "the safety classifier read it as an attempt to override the tutor's rules (93% sure)",
    );
    expect(humanSignals("brand_new:thing_here")).toBe("brand new:thing here");
    expect(humanSignals("")).toBe("");
  });

  it("names graders and policies", () => {
    expect(graderName("answer_key")).toBe("the answer key");
    expect(graderName("unit_tests")).toBe("unit tests");
    expect(graderName(undefined, "auto")).toBe("the answer key");
    expect(graderName(undefined, "human")).toBe("a reviewer");
    expect(policyName("off_topic")).toBe("off-topic");
    expect(policyName("something_new")).toBe("something new");
  });

  it("puts a date on every time", () => {
    expect(when("2026-11-30T05:40:00Z")).toMatch(/30 Nov/);
  });
});

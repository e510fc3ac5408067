import { describe, expect, it } from "vitest";

import { allowanceWords, closeOpenEmphasis } from "./ChatPanel";

describe("closeOpenEmphasis (a reply still streaming)", () => {
  it("closes an emphasis the model has opened but not closed yet", () => {
    expect(closeOpenEmphasis("*Offline tutor")).toBe("*Offline tutor*");
    expect(closeOpenEmphasis("Think about **what the server")).toBe("Think about **what the server**");
  });

  it("drops an opener with nothing after it yet", () => {
    expect(closeOpenEmphasis("Hello *")).toBe("Hello");
    expect(closeOpenEmphasis("*")).toBe("");
  });

  it("leaves balanced text, list bullets and code alone", () => {
    expect(closeOpenEmphasis("*Offline tutor* says hi")).toBe("*Offline tutor* says hi");
    expect(closeOpenEmphasis("* one\n* two")).toBe("* one\n* two");
    expect(closeOpenEmphasis("```python\nx = a * b")).toBe("```python\nx = a * b");
    expect(closeOpenEmphasis("use `a * b` here")).toBe("use `a * b` here");
  });
});

describe("allowanceWords (the tutor allowance in plain words)", () => {
  it("says nothing while plenty is left, or before any reply", () => {
    expect(allowanceWords(18_383, 600)).toBeNull();
    expect(allowanceWords(null, null)).toBeNull();
    expect(allowanceWords(-1, 600)).toBeNull(); // budgets off
  });

  it("counts answers, not tokens, once it runs low", () => {
    expect(allowanceWords(1_900, 600)).toBe("Tutor allowance: about 3 more answers for now.");
    expect(allowanceWords(700, 600)).toBe("Tutor allowance: about one more answer for now.");
    expect(allowanceWords(0, 600)).toBe("You've used your tutor allowance for now.");
  });
});

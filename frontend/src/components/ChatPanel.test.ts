import { describe, expect, it } from "vitest";

import { closeOpenEmphasis } from "./ChatPanel";

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

import { describe, expect, it } from "vitest";

import { alertState, checkThreshold, projectionText, type Alert, type SpendLine } from "./alerts";

const alert = (over: Partial<Alert>): Alert => ({
  id: "a",
  rule_id: "r",
  kind: "cost_burn_rate",
  value: 7,
  threshold: 5,
  window_minutes: 60,
  message: "m",
  fired_at: "2026-12-01T00:00:00Z",
  resolved_at: null,
  acknowledged_at: null,
  acknowledged_by: null,
  ...over,
});

describe("alert rules", () => {
  it("checks the threshold in the kind's own unit", () => {
    expect(checkThreshold("rating_drop", "3.5")).toBeNull();
    expect(checkThreshold("rating_drop", "7")).toMatch(/Between 1 and 5/);
    expect(checkThreshold("grading_disagreement", "1.5")).toMatch(/Between 0.01 and 1/);
    expect(checkThreshold("guardrail_spike", "")).toBe("Required.");
    expect(checkThreshold("cost_burn_rate", "lots")).toBe("Must be a number.");
  });

  it("says whether an alert needs someone", () => {
    expect(alertState(alert({})).tone).toBe("error");
    expect(alertState(alert({ acknowledged_at: "2026-12-01T00:01:00Z" })).text).toBe("Firing, acknowledged");
    expect(alertState(alert({ resolved_at: "2026-12-01T01:00:00Z" })).text).toBe("Resolved, not acknowledged");
  });

  it("reads a projection against the budget", () => {
    const line = { projected_share: 1.3 } as SpendLine;
    expect(projectionText(line)).toBe("130% of the budget: runs out before month end");
    expect(projectionText({ projected_share: 0.42 } as SpendLine)).toBe("42% of the budget by month end");
    expect(projectionText({ projected_share: null } as SpendLine)).toBe("No token limit");
  });
});

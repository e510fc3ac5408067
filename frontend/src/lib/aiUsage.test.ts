import { describe, expect, it } from "vitest";

import { bucketAllowed, pivot, window } from "./aiUsage";

describe("pivot", () => {
  it("aligns series on shared bucket times with gaps as null", () => {
    const table = pivot(
      [
        { key: "a", points: [{ t: "2026-01-02T00:00:00Z", n: 2 }, { t: "2026-01-01T00:00:00Z", n: 1 }] },
        { key: "", points: [{ t: "2026-01-03T00:00:00Z", n: 5 }] },
      ],
      (p) => p.n,
    );
    expect(table.times).toEqual(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]);
    expect(table.series).toEqual([
      { label: "a", values: [1, 2, null] },
      { label: "(none)", values: [null, null, 5] },
    ]);
  });

  it("is empty without series", () => {
    expect(pivot([], () => 1)).toEqual({ times: [], series: [] });
  });
});

describe("filters", () => {
  it("allows hourly points up to 31 days only", () => {
    expect(bucketAllowed("30d", "hour")).toBe(true);
    expect(bucketAllowed("90d", "hour")).toBe(false);
    expect(bucketAllowed("90d", "day")).toBe(true);
  });

  it("ends the window now", () => {
    const now = new Date("2026-12-01T12:00:00Z");
    expect(window("24h", now)).toEqual({ from: "2026-11-30T12:00:00.000Z", to: "2026-12-01T12:00:00.000Z" });
  });
});

import { describe, expect, it } from "vitest";

import { ApiError } from "../api/client";
import { exportErrorText, exportStatusText, formatSize, type DataExport } from "./dataExport";

const base: DataExport = {
  id: "e1",
  status: "pending",
  requested_at: "2026-12-02T07:00:00Z",
  completed_at: null,
  expires_at: null,
  size_bytes: null,
  download_url: null,
};

describe("formatSize", () => {
  it("reads bytes, kilobytes and megabytes", () => {
    expect(formatSize(512)).toBe("512 bytes");
    expect(formatSize(12_300)).toBe("12 KB");
    expect(formatSize(3_500_000)).toBe("3.3 MB");
    expect(formatSize(null)).toBe("");
  });
});

describe("exportStatusText", () => {
  it("says a pending export is being prepared", () => {
    expect(exportStatusText(base)).toContain("Preparing");
  });
  it("gives a ready export's size and how long its link lasts", () => {
    const ready = { ...base, status: "ready" as const, size_bytes: 20_480, expires_at: "2026-12-03T07:00:00Z" };
    expect(exportStatusText(ready, new Date("2026-12-02T07:00:00Z"))).toBe(
      "Your data is ready (20 KB). The link works for about 24 hours; keep the file safe.",
    );
  });
  it("offers to try again after a failure", () => {
    expect(exportStatusText({ ...base, status: "failed" })).toContain("Try again");
  });
});

describe("exportErrorText", () => {
  it("shows the server's own sentence for the daily limit", () => {
    const detail = "At most 3 data exports a day: you can ask for a new one in 5 hours.";
    expect(exportErrorText(new ApiError("busy", 429, { status: 429, detail }))).toBe(detail);
  });
  it("falls back to the error's message", () => {
    expect(exportErrorText(new Error("Lyceum can't be reached."))).toBe("Lyceum can't be reached.");
  });
});

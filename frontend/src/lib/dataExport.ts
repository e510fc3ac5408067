/** "Download my data": the learner's personal-data export (GET/POST /v1/me/export, docs/data-handling.md).
 * GET asks for an export when there is none to show, so the page simply polls it until it is ready. */
import { ApiError } from "../api/client";
import { call } from "./credentials";

export interface DataExport {
  id: string;
  status: "pending" | "ready" | "failed" | "expired";
  requested_at: string;
  completed_at: string | null;
  expires_at: string | null;
  size_bytes: number | null;
  download_url: string | null;
}

export const POLL_MS = 2000; // the server's Retry-After for a pending export

export const dataExportApi = {
  /** The latest export, asking for one when there is none (or it failed or expired). */
  current: () => call<DataExport>("GET", "/v1/me/export"),
  /** Always a fresh export (a pending one is returned as it is). */
  fresh: () => call<DataExport>("POST", "/v1/me/export"),
};

/** "12 KB", "3.4 MB": the zip's size for people. */
export function formatSize(bytes: number | null): string {
  if (bytes === null || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The sentence under the button, for each state of the export. */
export function exportStatusText(e: DataExport | null, now: Date = new Date()): string {
  if (!e) return "";
  if (e.status === "pending") return "Preparing your data… this usually takes a few seconds.";
  if (e.status === "ready" && e.expires_at) {
    const hours = Math.max(1, Math.round((new Date(e.expires_at).getTime() - now.getTime()) / 3_600_000));
    return `Your data is ready (${formatSize(e.size_bytes)}). The link works for about ${hours} hour${hours === 1 ? "" : "s"}; keep the file safe.`;
  }
  return "The export could not be prepared. Try again.";
}

/** The server's own sentence for a refused export (the daily limit says when to come back). */
export function exportErrorText(error: unknown): string {
  if (error instanceof ApiError && error.status === 429 && error.problem.detail) return error.problem.detail;
  return error instanceof Error ? error.message : "Something went wrong. Please try again.";
}

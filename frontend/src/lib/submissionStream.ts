/**
 * Follow one submission live: GET /v1/submissions/{id}/events (server-sent events, read with fetch so the
 * bearer token can go in a header). Every `submission` event is the submission's current state; the
 * stream ends once it is graded or failed. A dropped stream reconnects with backoff and reads the state
 * afresh, so a decision made while disconnected is not missed.
 */
import { readEventStream } from "./sse";

export interface FollowOptions<T extends { status: string }> {
  submissionId: string;
  getToken(): Promise<string | null>;
  refreshToken(): Promise<boolean>;
  onUpdate(submission: T): void;
  fetchImpl?: typeof fetch;
}

const SETTLED = new Set(["graded", "failed"]);

/** Returns a function that stops following. */
export function followSubmission<T extends { status: string }>(options: FollowOptions<T>): () => void {
  const abort = new AbortController();
  let attempt = 0;
  let refreshed = false;

  async function once(): Promise<"settled" | "retry" | "stop"> {
    const token = await options.getToken();
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const doFetch = options.fetchImpl ?? globalThis.fetch.bind(globalThis);
    const response = await doFetch(`/v1/submissions/${options.submissionId}/events`, { headers, signal: abort.signal });
    if (response.status === 401 && !refreshed && (await options.refreshToken())) {
      refreshed = true;
      return "retry";
    }
    if (response.status >= 400 && response.status < 500) return "stop";
    if (!response.ok || !response.body) return "retry";
    let settled = false;
    await readEventStream(response.body, (message) => {
      if (message.event !== "submission") return;
      attempt = 0;
      const submission = JSON.parse(message.data) as T;
      settled = SETTLED.has(submission.status);
      options.onUpdate(submission);
    });
    return settled ? "settled" : "retry";
  }

  void (async () => {
    while (!abort.signal.aborted) {
      let outcome: "settled" | "retry" | "stop";
      try {
        outcome = await once();
      } catch {
        outcome = "retry";
      }
      if (outcome !== "retry" || abort.signal.aborted) return;
      const base = Math.min(30_000, 1000 * 2 ** attempt++);
      await new Promise((resolve) => setTimeout(resolve, base / 2 + Math.random() * (base / 2)));
    }
  })();
  return () => abort.abort();
}

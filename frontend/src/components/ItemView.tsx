import { useEffect, useState } from "react";
import { Link } from "react-router";

import { api, must, type Schemas } from "../api/client";
import { renderMarkdown } from "../lib/markdown";
import { useResource } from "../lib/useResource";
import { AssessmentPanel } from "./AssessmentPanel";
import { ErrorNote, LockIcon, Spinner } from "./Status";

type Progress = Schemas["CourseProgress"];

export function ItemView({
  courseId,
  itemId,
  progress,
  items,
  onProgress,
  onRefresh,
}: {
  courseId: string;
  itemId: string;
  progress: Progress | null;
  items: Schemas["ItemOutline"][];
  onProgress(progress: Progress): void;
  onRefresh(): void;
}) {
  const item = useResource(
    () => must(api.GET("/v1/courses/{course_id}/items/{item_id}", { params: { path: { course_id: courseId, item_id: itemId } } })),
    [courseId, itemId],
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const state = progress?.items.find((p) => p.item_id === itemId);
  const titles = new Map(items.map((i) => [i.id, i.title]));
  const next = items.find((i) => i.id === progress?.next_item_id && i.id !== itemId);
  const enrolled = Boolean(progress?.enrolled);

  // Remember where the learner is, so "Continue" on My learning resumes here. Best effort: a failure
  // only means Continue falls back to the next item.
  useEffect(() => {
    if (!enrolled) return;
    void api
      .PUT("/v1/courses/{course_id}/position", {
        params: { path: { course_id: courseId } },
        body: { item_id: itemId },
      })
      .catch(() => undefined);
  }, [courseId, itemId, enrolled]);

  async function complete() {
    setBusy(true);
    setError(null);
    try {
      const result = await must(
        api.POST("/v1/courses/{course_id}/items/{item_id}/completion", {
          params: { path: { course_id: courseId, item_id: itemId } },
        }),
      );
      onProgress(result.progress);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  // A locked item (prerequisites or a competency gate) is explained before its text is needed: a gated
  // item's text is refused (409) until the gate opens.
  if (state?.state === "locked") {
    const gates = state.missing_competencies ?? [];
    const canDo = doableBefore(itemId, items, progress);
    const practice = gates.length > 0 ? practiceFor(gates.map((g) => g.competency_id), items, progress) : undefined;
    const target = canDo[0] ?? practice ?? items.find((i) => i.id === progress?.next_item_id);
    return (
      <article className="card locked-item" data-testid="locked-item">
        <h2>
          <LockIcon /> This item is locked
        </h2>
        {state.missing_prerequisites.length > 0 && (
          <>
            <p>It opens when you have finished:</p>
            <ul>
              {state.missing_prerequisites.map((id) => (
                <li key={id}>
                  <Link to={`/courses/${courseId}/items/${id}`}>{titles.get(id) ?? "a previous item"}</Link>
                </li>
              ))}
            </ul>
          </>
        )}
        {gates.length > 0 && (
          <>
            <p>It opens when your mastery reaches:</p>
            <ul data-testid="missing-competencies">
              {gates.map((g) => (
                <li key={g.competency_id}>
                  <strong>{g.name}</strong>: {Math.round(g.required * 100)}% (you are at {Math.round(g.mastery * 100)}%)
                </li>
              ))}
            </ul>
          </>
        )}
        {target && (
          <p className="can-do">
            <Link className="button" to={`/courses/${courseId}/items/${target.id}`} data-testid="can-do-next">
              Do this now: {target.title}
            </Link>
          </p>
        )}
      </article>
    );
  }

  if (item.loading) return <Spinner label="Loading the lesson…" />;
  if (item.error || !item.data) return <ErrorNote message={item.error ?? "This item couldn't be loaded."} onRetry={item.reload} />;
  const detail = item.data;

  return (
    <article className="card item" data-kind={detail.kind}>
      <p className="meta">
        <span className="tag">{detail.kind}</span> · {detail.bloom_level} · about {detail.estimated_minutes} min
      </p>
      {/* Sanitised: course text is treated as untrusted like model output. */}
      <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(detail.body) }} />
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {detail.kind === "assessment" && progress?.enrolled && <AssessmentPanel itemId={itemId} onGraded={onRefresh} />}
      <div className="item-actions">
        {detail.kind === "assessment" ? (
          <p className="notice">
            {state?.state === "done"
              ? "✓ Passed. You can still practise: a new attempt doesn't undo your pass."
              : "This is an assessment: it counts as done when you pass it. The tutor can help with the ideas behind it, not the answers."}
          </p>
        ) : state?.state === "done" ? (
          <p className="notice done-note" role="status">
            ✓ Done
          </p>
        ) : (
          progress?.enrolled && (
            <button type="button" className="button" onClick={complete} disabled={busy}>
              {busy ? "Saving…" : "Mark as done"}
            </button>
          )
        )}
        {next && (
          <Link className="button secondary" to={`/courses/${courseId}/items/${next.id}`}>
            Next: {next.title}
          </Link>
        )}
      </div>
    </article>
  );
}

/** The first item the learner can do now (unlocked, not done) that practises one of the competencies. */
function practiceFor(competencies: string[], items: Schemas["ItemOutline"][], progress: Progress | null) {
  const state = new Map((progress?.items ?? []).map((p) => [p.item_id, p.state]));
  return items.find((i) => state.get(i.id) === "unlocked" && i.competencies.some((c) => competencies.includes(c)));
}

/** The items the learner can do right now (unlocked, not done) on the way to a locked item, nearest first:
 * walk its prerequisites back until reaching ones that are open. */
function doableBefore(itemId: string, items: Schemas["ItemOutline"][], progress: Progress | null): Schemas["ItemOutline"][] {
  const byId = new Map(items.map((i) => [i.id, i]));
  const state = new Map((progress?.items ?? []).map((p) => [p.item_id, p.state]));
  const found: Schemas["ItemOutline"][] = [];
  const seen = new Set<string>([itemId]);
  let frontier = byId.get(itemId)?.prerequisites ?? [];
  while (frontier.length) {
    const next: string[] = [];
    for (const id of frontier) {
      if (seen.has(id)) continue;
      seen.add(id);
      const item = byId.get(id);
      if (!item) continue;
      const s = state.get(id);
      if (s === "unlocked") found.push(item);
      else if (s === "locked") next.push(...item.prerequisites);
    }
    frontier = next;
  }
  const order = new Map(items.map((i, n) => [i.id, n]));
  return found.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

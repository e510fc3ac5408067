import { Link } from "react-router";

import { ApiError, api, must, type Schemas } from "../api/client";
import { emphasisSegments } from "../lib/highlight";
import { useResource } from "../lib/useResource";

/** A reason sentence with its *emphasised* competency or topic, as text (never HTML). */
function Reason({ text }: { text: string }) {
  return (
    <>
      {emphasisSegments(text).map((s, i) => (s.marked ? <em key={i}>{s.text}</em> : <span key={i}>{s.text}</span>))}
    </>
  );
}

async function nextSteps(courseId: string): Promise<Schemas["NextItem"][] | null> {
  try {
    const found = await must(api.GET("/v1/courses/{course_id}/next", { params: { path: { course_id: courseId } } }));
    return found.items;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null; // not enrolled: nothing to recommend
    throw err;
  }
}

/**
 * "Recommended next": up to three items with the reason for each (GET /v1/courses/{id}/next). Reloaded
 * when progress changes (``version``); hidden until the learner is enrolled.
 */
export function RecommendedNext({ courseId, version, currentItemId }: { courseId: string; version: string; currentItemId?: string }) {
  const next = useResource(() => nextSteps(courseId), [courseId, version]);
  if (next.data === null && !next.error) {
    return next.loading ? (
      <section className="card recommended" aria-labelledby="recommended-title" aria-busy="true">
        <h2 id="recommended-title">Recommended next</h2>
        <p className="muted small">Finding your next steps…</p>
      </section>
    ) : null;
  }
  const all = next.data ?? [];
  // On an item's page the item itself is not "next"; if it was the only step, say so rather than "caught up".
  const items = all.filter((i) => i.item_id !== currentItemId);
  const onlyThis = all.length > 0 && items.length === 0;
  return (
    <section className="card recommended" aria-labelledby="recommended-title" data-testid="recommended-next">
      <h2 id="recommended-title">Recommended next</h2>
      {next.error && <p className="error-text small">{next.error}</p>}
      {onlyThis && (
        <p className="muted" data-testid="this-is-next">
          This is your next step: finish it to unlock what comes after.
        </p>
      )}
      {!next.error && all.length === 0 && (
        <p className="muted" data-testid="caught-up">
          You're all caught up. Nothing else is waiting in this course right now.
        </p>
      )}
      {items.length > 0 && (
        <ol className="recommended-list">
          {items.map((item) => (
            <li key={item.item_id}>
              <Link to={`/courses/${courseId}/items/${item.item_id}`}>{item.title}</Link>
              <p className="muted small reason">
                <Reason text={item.reason} />
              </p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

async function relatedItems(itemId: string): Promise<Schemas["RelatedItem"][] | null> {
  try {
    const found = await must(api.GET("/v1/items/{item_id}/related", { params: { path: { item_id: itemId } } }));
    return found.items;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null; // not enrolled in this course
    throw err;
  }
}

/** "Related": items close in meaning to the open one, across the learner's courses (beside the lesson). */
export function RelatedList({ itemId, courseId }: { itemId: string; courseId: string }) {
  const related = useResource(() => relatedItems(itemId), [itemId]);
  if (related.data === null && !related.loading && !related.error) return null;
  return (
    <aside className="related" aria-labelledby="related-title" data-testid="related-items">
      <h2 id="related-title">Related</h2>
      {related.loading && <p className="muted small">Looking for related items…</p>}
      {related.error && <p className="error-text small">{related.error}</p>}
      {related.data && related.data.length === 0 && <p className="muted small">Nothing closely related yet.</p>}
      {related.data && related.data.length > 0 && (
        <ul>
          {related.data.map((item) => (
            <li key={item.item_id}>
              <Link to={`/courses/${item.course_id}/items/${item.item_id}`}>{item.title}</Link>
              {item.course_id !== courseId && <span className="muted small"> · in another course</span>}
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}

import { Link } from "react-router";

import type { Schemas } from "../api/client";
import { LockIcon } from "./Status";

type Outline = Schemas["CourseDetail"];
type Progress = Schemas["CourseProgress"];
type ItemOutline = Schemas["ItemOutline"];

const STATE_LABEL: Record<string, string> = { done: "Done", unlocked: "Ready", locked: "Locked" };
const KIND_LABEL: Record<string, string> = { lesson: "Lesson", exercise: "Exercise", assessment: "Assessment" };

/** Depth of each item = the longest prerequisite chain before it, so edges always point rightwards. */
export function layers(items: ItemOutline[]): Map<string, number> {
  const byId = new Map(items.map((i) => [i.id, i]));
  const depth = new Map<string, number>();
  const visit = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // a cycle would be refused by course validation; never loop here
    seen.add(id);
    const item = byId.get(id);
    const d = item ? Math.max(-1, ...item.prerequisites.filter((p) => byId.has(p)).map((p) => visit(p, seen))) + 1 : 0;
    depth.set(id, d);
    return d;
  };
  for (const item of items) visit(item.id, new Set());
  return depth;
}

export function PathwayMap({
  course,
  progress,
  currentItemId,
}: {
  course: Outline;
  progress: Progress | null;
  currentItemId?: string;
}) {
  const items = course.modules.flatMap((m) => m.items);
  const state = new Map((progress?.items ?? []).map((p) => [p.item_id, p.state]));
  const titles = new Map(items.map((i) => [i.id, i.title]));
  return (
    <nav className="pathway" aria-label="Course pathway">
      <PathwayGraph items={items} state={state} currentItemId={currentItemId} />
      {course.modules.map((module) => (
        <section key={module.id} className="pathway-module" aria-label={`Module: ${module.title}`}>
          <h2 className="pathway-module-title">{module.title}</h2>
          <ol>
            {module.items.map((item) => {
              const s = state.get(item.id) ?? (progress ? "locked" : "unlocked");
              const needs = item.prerequisites.map((p) => titles.get(p)).filter(Boolean);
              return (
                <li key={item.id} className={`pathway-item state-${s}${item.id === currentItemId ? " current" : ""}`}>
                  <Link
                    to={`/courses/${course.id}/items/${item.id}`}
                    aria-current={item.id === currentItemId ? "page" : undefined}
                    aria-describedby={s === "locked" && needs.length > 0 ? `needs-${item.id}` : undefined}
                    data-state={s}
                  >
                    <span className="state-icon" aria-hidden="true">
                      {s === "done" ? "✓" : s === "locked" ? <LockIcon /> : "○"}
                    </span>
                    <span className="item-title">{item.title}</span>
                    <span className="item-kind">
                      {KIND_LABEL[item.kind] ?? item.kind}
                      {/* The name read out starts with the visible words (WCAG 2.5.3), then the state. */}
                      <span className="visually-hidden">, {(STATE_LABEL[s] ?? s).toLowerCase()}</span>
                    </span>
                  </Link>
                  {s === "locked" && needs.length > 0 && <p className="needs" id={`needs-${item.id}`}>after {needs.join(", ")}</p>}
                </li>
              );
            })}
          </ol>
        </section>
      ))}
    </nav>
  );
}

const COL = 46;
const ROW = 30;

/** A compact drawing of the prerequisite graph; the list below it carries the same information for everyone. */
function PathwayGraph({
  items,
  state,
  currentItemId,
}: {
  items: ItemOutline[];
  state: Map<string, string>;
  currentItemId?: string;
}) {
  if (items.length === 0) return null;
  const depth = layers(items);
  const rows = new Map<number, number>();
  const at = new Map<string, { x: number; y: number }>();
  for (const item of items) {
    const d = depth.get(item.id) ?? 0;
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    at.set(item.id, { x: 16 + d * COL, y: 14 + r * ROW });
  }
  const width = 32 + Math.max(...depth.values()) * COL;
  const height = 28 + (Math.max(...rows.values()) - 1) * ROW;
  return (
    <svg className="pathway-graph" viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Prerequisite map of the course">
      {items.flatMap((item) =>
        item.prerequisites
          .filter((p) => at.has(p))
          .map((p) => {
            const a = at.get(p)!;
            const b = at.get(item.id)!;
            return <line key={`${p}-${item.id}`} x1={a.x} y1={a.y} x2={b.x} y2={b.y} className="edge" />;
          }),
      )}
      {items.map((item) => {
        const p = at.get(item.id)!;
        const s = state.get(item.id) ?? "unlocked";
        return (
          <g key={item.id}>
            <circle cx={p.x} cy={p.y} r={item.id === currentItemId ? 9 : 7} className={`node state-${s}`}>
              <title>{`${item.title} (${STATE_LABEL[s] ?? s})`}</title>
            </circle>
          </g>
        );
      })}
    </svg>
  );
}

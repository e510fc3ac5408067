import { useEffect, useRef } from "react";
import { Link, useNavigate } from "react-router";

import type { Schemas } from "../api/client";
import { LockIcon } from "./Status";
import "../styles/learner.css";

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
  itemHref,
}: {
  course: Outline;
  progress: Progress | null;
  currentItemId?: string;
  /** Where an item leads (the authoring preview keeps its own pages); the learner's item page by default. */
  itemHref?: (itemId: string) => string;
}) {
  const hrefOf = itemHref ?? ((itemId: string) => `/courses/${course.id}/items/${itemId}`);
  const items = course.modules.flatMap((m) => m.items);
  const state = new Map((progress?.items ?? []).map((p) => [p.item_id, p.state]));
  const gated = new Map((progress?.items ?? []).map((p) => [p.item_id, p.missing_competencies ?? []]));
  const waiting = new Map((progress?.items ?? []).map((p) => [p.item_id, p.missing_prerequisites]));
  const titles = new Map(items.map((i) => [i.id, i.title]));
  const nav = useRef<HTMLElement>(null);
  // Keep the current item in view in the side list (and the map), without scrolling the page itself.
  useEffect(() => {
    const list = nav.current;
    const current = list?.querySelector<HTMLElement>(".pathway-item.current");
    if (!list || !current) return;
    const top = current.getBoundingClientRect().top - list.getBoundingClientRect().top + list.scrollTop;
    if (list.scrollHeight > list.clientHeight) list.scrollTop = Math.max(0, top - list.clientHeight / 3);
    const graph = list.querySelector<HTMLElement>(".pathway-graph-scroll");
    const node = graph?.querySelector<SVGElement>(".node.current");
    if (graph && node && graph.scrollWidth > graph.clientWidth) {
      const x = node.getBoundingClientRect().left - graph.getBoundingClientRect().left + graph.scrollLeft;
      graph.scrollLeft = Math.max(0, x - graph.clientWidth / 2);
    }
  }, [currentItemId, progress]);
  return (
    <nav className="pathway" aria-label="Course pathway" ref={nav}>
      <PathwayGraph hrefOf={hrefOf} items={items} state={state} currentItemId={currentItemId} />
      {course.modules.map((module) => (
        <section key={module.id} className="pathway-module" aria-label={`Module: ${module.title}`}>
          <h2 className="pathway-module-title">{module.title}</h2>
          <ol>
            {module.items.map((item) => {
              const s = state.get(item.id) ?? (progress ? "locked" : "unlocked");
              // What still stands in the way (all prerequisites when progress is unknown).
              const after = (waiting.get(item.id) ?? item.prerequisites).map((p) => titles.get(p)).filter(Boolean);
              // A competency gate: the skill and the level it must reach.
              const skills = (gated.get(item.id) ?? []).map((g) => `${g.name} at ${Math.round(g.required * 100)}%`);
              const needs = [...(after.length ? [`after ${after.join(", ")}`] : []), ...(skills.length ? [`needs ${skills.join(", ")}`] : [])];
              return (
                <li key={item.id} className={`pathway-item state-${s}${item.id === currentItemId ? " current" : ""}`}>
                  <Link
                    to={hrefOf(item.id)}
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
                  {s === "locked" && needs.length > 0 && (
                    <p className="needs" id={`needs-${item.id}`}>
                      {needs.join("; ")}
                    </p>
                  )}
                </li>
              );
            })}
          </ol>
        </section>
      ))}
    </nav>
  );
}

const COL = 118;
const ROW = 44;
const LABEL_CHARS = 17;

function shortLabel(title: string): string {
  return title.length > LABEL_CHARS ? `${title.slice(0, LABEL_CHARS - 1).trimEnd()}…` : title;
}

/** A drawing of the prerequisite graph with a short label under each item, drawn at its natural size and
 * scrolled sideways when the course is wide; the list below it carries the same information for everyone. */
function PathwayGraph({
  hrefOf,
  items,
  state,
  currentItemId,
}: {
  hrefOf: (itemId: string) => string;
  items: ItemOutline[];
  state: Map<string, string>;
  currentItemId?: string;
}) {
  const navigate = useNavigate();
  if (items.length === 0) return null;
  const depth = layers(items);
  const rows = new Map<number, number>();
  const at = new Map<string, { x: number; y: number }>();
  for (const item of items) {
    const d = depth.get(item.id) ?? 0;
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    at.set(item.id, { x: COL / 2 + d * COL, y: 12 + r * ROW });
  }
  const width = COL * (Math.max(...depth.values()) + 1);
  const height = 34 + (Math.max(...rows.values()) - 1) * ROW;
  return (
    // Keyboard users scroll a wide map too (WCAG 2.1.1): the region takes focus and names itself.
    <div className="pathway-graph-scroll" style={{ overflowX: "auto" }} tabIndex={0} role="region" aria-label="Prerequisite map (scrolls sideways)">
      <svg
        className="pathway-graph"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label="Prerequisite map of the course"
        style={{ width, maxHeight: "none" }}
      >
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
          const current = item.id === currentItemId;
          return (
            // The list below is the keyboard and screen-reader route; the drawing is a mouse shortcut.
            <g key={item.id} className="map-node" onClick={() => navigate(hrefOf(item.id))} style={{ cursor: "pointer" }} data-testid="map-node">
              <circle cx={p.x} cy={p.y} r={current ? 8 : 6} className={`node state-${s}${current ? " current" : ""}`}>
                <title>{`${item.title} (${STATE_LABEL[s] ?? s})`}</title>
              </circle>
              <text x={p.x} y={p.y + 19} className={`node-label state-${s}`} style={{ fontSize: 10, fontWeight: current ? 700 : 400 }}>
                {shortLabel(item.title)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

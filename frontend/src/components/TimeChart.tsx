import { useEffect, useId, useRef, useState } from "react";

import type { Table } from "../lib/aiUsage";

const COLOURS = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#4b5563"];
const WHEN = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "UTC" });

export const formatTime = (iso: string) => `${WHEN.format(new Date(iso))} UTC`;

/** A time-series chart (uPlot, loaded only when a chart is first drawn) with a table view of the same
 * figures behind a toggle: the table is what screen readers and keyboard users get, and anyone who wants
 * the exact numbers. */
export function TimeChart({
  title,
  table,
  format = (v) => v.toLocaleString("en-GB"),
  testId,
  span,
}: {
  title: string;
  table: Table;
  format?: (v: number) => string;
  testId: string;
  span: { from: string; to: string };
}) {
  const [asTable, setAsTable] = useState(false);
  const headingId = useId();
  return (
    <figure className="card ai-chart" aria-labelledby={headingId} data-testid={testId}>
      <div className="ai-chart-head">
        <h3 id={headingId}>{title}</h3>
        <button type="button" className="button secondary" aria-pressed={asTable} onClick={() => setAsTable((v) => !v)}>
          {asTable ? "Show chart" : "Show table"}
        </button>
      </div>
      {table.times.length === 0 ? (
        <p className="muted" data-testid={`${testId}-empty`}>No data in this range.</p>
      ) : asTable ? (
        <DataTable title={title} table={table} format={format} />
      ) : (
        <Plot title={title} table={table} format={format} span={span} />
      )}
    </figure>
  );
}

function DataTable({ title, table, format }: { title: string; table: Table; format: (v: number) => string }) {
  return (
    <div className="table-scroll">
      <table className="data-table">
        <caption className="visually-hidden">{title}</caption>
        <thead>
          <tr>
            <th scope="col">Time (UTC)</th>
            {table.series.map((s) => (
              <th scope="col" key={s.label}>{s.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.times.map((t, i) => (
            <tr key={t}>
              <th scope="row">{formatTime(t)}</th>
              {table.series.map((s) => {
                const v = s.values[i];
                return <td key={s.label}>{v === null || v === undefined ? "—" : format(v)}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Plot({
  title,
  table,
  format,
  span,
}: {
  title: string;
  table: Table;
  format: (v: number) => string;
  span: { from: string; to: string };
}) {
  const host = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let chart: { destroy(): void } | null = null;
    let live = true;
    Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")]).then(
      ([{ default: UPlot }]) => {
        if (!live || !host.current) return;
        const width = Math.max(280, host.current.clientWidth || 600);
        chart = new UPlot(
          {
            width,
            height: 220,
            series: [
              {},
              ...table.series.map((s, i) => ({
                label: s.label,
                stroke: COLOURS[i % COLOURS.length],
                width: 2,
                spanGaps: false,
                points: { show: true, size: 6 },
                value: (_u: unknown, v: number | null) => (v === null ? "—" : format(v)),
              })),
            ],
            axes: [{}, { values: (_u: unknown, ticks: number[]) => ticks.map((v) => format(v)), size: 70 }],
            // The whole range asked for, not just the buckets with data (one point would fill the width).
            scales: { x: { time: true, range: () => [Date.parse(span.from) / 1000, Date.parse(span.to) / 1000] } },
          },
          [table.times.map((t) => Date.parse(t) / 1000), ...table.series.map((s) => s.values)],
          host.current,
        );
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      chart?.destroy();
    };
  }, [table, format, span]);
  if (failed) return <p className="muted">The chart couldn't be drawn; use “Show table”.</p>;
  // The canvas is decorative for assistive technology: the table view carries the figures.
  return <div ref={host} className="ai-plot" role="img" aria-label={`${title}: chart (use “Show table” for the figures)`} />;
}

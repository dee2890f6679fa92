// A line chart of a sale's timeline, drawn as inline SVG (no library, nothing inline for the
// Content-Security-Policy: colours and dashes come from app.css by class). One line per
// series over the seconds since the sale's start; long sales are summed into at most
// MAX_POINTS buckets of whole seconds.

import { replace } from "./dom.js";
import { number, t } from "./i18n.js";

const MAX_POINTS = 240;
const WIDTH = 640;
const HEIGHT = 240;
const PAD = { left: 48, right: 16, top: 14, bottom: 30 };

/** Per series (a column of the timeline), the sums over buckets of `size` seconds. */
export function bucketed(timeline, series) {
  const last = timeline.reduce((max, row) => Math.max(max, row.second), 0);
  const size = Math.max(1, Math.ceil((last + 1) / MAX_POINTS));
  const count = Math.floor(last / size) + 1;
  const values = Object.fromEntries(series.map((name) => [name, new Array(count).fill(0)]));
  for (const row of timeline) {
    const i = Math.floor(Math.max(0, row.second) / size);
    for (const name of series) values[name][i] += row[name] || 0;
  }
  return { size, count, values };
}

/** The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1). */
export function niceCeiling(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

/**
 * Draw `timeline` into `svg` (an <svg> of the page, whose namespace the drawing uses): one
 * line per column named in `series` (styled by its name), titled `title` for assistive
 * technology.
 */
export function drawTimeline(svg, timeline, series, title) {
  const ns = svg.namespaceURI;
  const el = (tag, attrs = {}, text = null) => {
    const node = document.createElementNS(ns, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== null) node.textContent = text;
    return node;
  };
  const { size, count, values } = bucketed(timeline, series);
  const top = niceCeiling(Math.max(1, ...series.flatMap((column) => values[column])));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (count === 1 ? plotW / 2 : (i * plotW) / (count - 1));
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const nodes = [el("title", { id: `${svg.id}-title` }, title)];

  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    nodes.push(el("line", { class: "chart__grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }));
    nodes.push(el("text", { class: "chart__label", x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end" }, number(value)));
  }
  const ticks = [...new Set([0, Math.floor((count - 1) / 2), count - 1])];
  for (const i of ticks) {
    const label = t("duration.seconds", { seconds: i * size });
    nodes.push(el("text", { class: "chart__label", x: x(i), y: HEIGHT - 8, "text-anchor": "middle" }, label));
  }
  for (const column of series) {
    const points = values[column].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    nodes.push(el("polyline", { class: `chart__line chart__line--${column}`, points, "data-series": column }));
    if (count <= 60) {
      values[column].forEach((v, i) => nodes.push(el("circle", { class: `chart__dot chart__dot--${column}`, cx: x(i), cy: y(v), r: 2.5 })));
    }
  }
  replace(svg, nodes);
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
}

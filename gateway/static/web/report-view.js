// A sale's report in the operator panel (GET /api/v1/admin/sales/{id}/report and its stats):
// time to sell out, conversion, decision latency and revenue, a chart of the per-second
// timeline, the numbers as a table, and the timeline as a CSV file to download.

import { isSessionError, saleReport, saleReportCsv, saleStats } from "./api.js";
import { h, byId, replace, setNotice, announce } from "./dom.js";
import { describe } from "./errors.js";
import { money, number, onLanguageChange, setText, t } from "./i18n.js";
import * as store from "./sales-store.js";
import { duration } from "./time.js";
import { drawTimeline } from "./timeline-chart.js";

// The chart's lines (columns of the timeline), with their names in the catalogs.
const SERIES_NAMES = {
  attempts: "report.series.attempts",
  accepted: "report.series.accepted",
  paid: "report.series.paid",
  expired: "report.series.expired",
};
const SERIES = Object.keys(SERIES_NAMES);

let saleId = null;
let shown = null; // {report, stats}, to render again in another language
let controller = null;

export function init() {
  byId("report-close").addEventListener("click", close);
  byId("report-refresh").addEventListener("click", () => load({ announceDone: true }));
  byId("report-csv").addEventListener("click", download);
  onLanguageChange(() => {
    if (shown) render(shown);
  });
}

/** Show the report of `id`, loading it (the heading takes the focus). */
export async function open(id) {
  saleId = id;
  shown = null;
  const section = byId("report");
  section.hidden = false;
  title();
  byId("report-title").focus();
  await load({});
}

function close() {
  controller?.abort();
  saleId = null;
  shown = null;
  byId("report").hidden = true;
  setNotice(byId("report-notice"), "");
}

function saleName() {
  return store.get(saleId)?.name || shown?.report.name || saleId;
}

function title() {
  setText(byId("report-title"), () => t("report.title", { name: saleName() }));
}

async function load({ announceDone = false }) {
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const id = saleId;
  setNotice(byId("report-notice"), () => t("report.loading"), "info");
  try {
    const [report, stats] = await Promise.all([saleReport(id, signal), saleStats(id, signal).catch(() => null)]);
    if (signal.aborted || id !== saleId) return;
    shown = { report, stats };
    setNotice(byId("report-notice"), "");
    render(shown);
    if (announceDone) announce(t("report.loaded", { name: saleName() }));
  } catch (error) {
    if (signal.aborted || error.name === "AbortError" || isSessionError(error)) return;
    setNotice(byId("report-notice"), () => t("report.load_failed", { reason: describe(error, { notFound: "admin.sale_gone" }) }), "error");
  }
}

const ONE_DECIMAL = { maximumFractionDigits: 1 };

function sellOut(seconds) {
  if (seconds === null || seconds === undefined) return t("report.not_sold_out");
  // A flash sale sells out in seconds: tenths count there.
  if (seconds < 60) return number(seconds, { style: "unit", unit: "second", unitDisplay: "short", ...ONE_DECIMAL });
  return duration(seconds);
}

const ms = (value) => (value === null || value === undefined ? "—" : number(value, { style: "unit", unit: "millisecond", ...ONE_DECIMAL }));

function render({ report, stats }) {
  title();
  byId("report-sell-out").textContent = sellOut(report.time_to_sell_out_seconds);
  byId("report-conversion").textContent =
    report.conversion === null || report.conversion === undefined
      ? "—"
      : t("report.conversion_value", { percent: number(report.conversion, { style: "percent", ...ONE_DECIMAL }), paid: report.paid, orders: report.orders });
  const latency = report.decision_latency_ms || {};
  byId("report-latency").textContent = t("report.latency_value", { p50: ms(latency.p50), p99: ms(latency.p99) });
  byId("report-revenue").textContent = stats?.revenue ? money(stats.revenue.amount, stats.revenue.currency) : "—";

  const timeline = report.timeline || [];
  const empty = timeline.length === 0;
  byId("report-empty").hidden = !empty;
  byId("report-chart").closest("figure").hidden = empty;
  byId("report-numbers").hidden = empty;
  drawTimeline(byId("report-chart"), timeline, SERIES, t("report.chart_title", { name: saleName() }));
  const totals = Object.fromEntries(SERIES.map((column) => [column, timeline.reduce((sum, row) => sum + (row[column] || 0), 0)]));
  replace(
    byId("report-legend"),
    h(
      "ul",
      { class: "chart__keys" },
      SERIES.map((column) =>
        h("li", { class: "chart__key" }, h("span", { class: `chart__swatch chart__swatch--${column}`, "aria-hidden": "true" }), t("report.series_total", { name: t(SERIES_NAMES[column]), count: totals[column] })),
      ),
    ),
  );
  const rejected = (row) => (row.rejected_sold_out || 0) + (row.rejected_limit_reached || 0) + (row.rejected_sale_not_active || 0);
  replace(
    byId("report-body"),
    timeline.map((row) =>
      h("tr", {}, h("th", { scope: "row" }, number(row.second)), [row.attempts, row.accepted, rejected(row), row.paid, row.expired].map((v) => h("td", {}, number(v || 0)))),
    ),
  );
}

// A link cannot carry the bearer token: the file is fetched, then handed to the browser.
async function download() {
  const button = byId("report-csv");
  if (!saleId || button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  try {
    const csv = await saleReportCsv(saleId);
    const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
    const link = h("a", { href: url, download: `sale-${saleId}-report.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    if (!isSessionError(error)) setNotice(byId("report-notice"), () => t("report.csv_failed", { reason: describe(error) }), "error");
  } finally {
    button.removeAttribute("aria-disabled");
  }
}

export const reset = close;

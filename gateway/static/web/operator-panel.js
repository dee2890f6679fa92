// The operator panel: GET /api/v1/admin/overview once a second while the admin view is on
// screen: per-sale counters and decision rates (and a button to open the sale's report),
// each partition's queue and consumers, and the dead letters.

import { overview, isSessionError } from "./api.js";
import { h, byId, replace, setNotice } from "./dom.js";
import { describe } from "./errors.js";
import { number, onLanguageChange, setText, t, tEnum } from "./i18n.js";
import { decisionRates, reading } from "./rates.js";
import * as store from "./sales-store.js";
import * as report from "./report-view.js";
import { localTime, retryIn } from "./time.js";

const INTERVAL_MS = 1000;
const MAX_BACKOFF_MS = 10000;
const ONE_DECIMAL = { maximumFractionDigits: 1, minimumFractionDigits: 1 };
const rate = (value) => number(value, ONE_DECIMAL);

let running = false;
let timer = 0;
let controller = null;
let previous = null;
let rates = null;
let failures = 0;
let shown = null; // the last overview, to render it again in another language

export function init() {
  report.init();
  byId("operator-sales-body").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-report]");
    if (button) report.open(button.dataset.report);
  });
  onLanguageChange(() => {
    relabel(byId("operator-sales-body"), SALE_COLUMNS);
    relabel(byId("operator-partitions-body"), PARTITION_COLUMNS);
    if (shown) render(shown);
  });
  // Nobody watches a hidden tab: stop polling until it is shown again.
  document.addEventListener("visibilitychange", () => {
    if (!running) return;
    if (document.hidden) pause();
    else poll();
  });
}

export function start() {
  if (running) return;
  running = true;
  previous = null;
  poll();
}

export function stop() {
  running = false;
  pause();
}

function pause() {
  window.clearTimeout(timer);
  controller?.abort();
  controller = null;
}

/** Poll now rather than at the next tick (after an admin action). */
export function refreshSoon() {
  if (running && !document.hidden) {
    pause();
    poll();
  }
}

async function poll() {
  window.clearTimeout(timer);
  controller = new AbortController();
  const { signal } = controller;
  let delay = INTERVAL_MS;
  try {
    const data = await overview(signal);
    if (signal.aborted) return;
    failures = 0;
    const now = reading(data);
    rates = decisionRates(previous, now) ?? rates;
    previous = now;
    render(data);
    status("live", () => t("operator.live"));
    setNotice(byId("operator-notice"), "");
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    if (isSessionError(error)) return;
    if (error.code === "forbidden") {
      running = false;
      status("error", () => t("operator.stopped"));
      setNotice(byId("operator-notice"), () => describe(error), "error");
      return;
    }
    failures++;
    delay = Math.min(MAX_BACKOFF_MS, Math.max(INTERVAL_MS * 2 ** failures, (error.retryAfter || 0) * 1000));
    const wait = delay / 1000;
    status("error", () => t("operator.retrying", { wait: retryIn(wait) }));
    setNotice(byId("operator-notice"), () => t("operator.unavailable", { reason: describe(error) }), "error");
  }
  if (running && !document.hidden) timer = window.setTimeout(poll, delay);
}

/** The live status beside the title: `text` is a function giving it in the active language. */
function status(kind, text) {
  const el = byId("operator-status");
  el.dataset.state = kind;
  const label = byId("operator-status-text");
  delete label.dataset.i18n; // "Connecting…" until the first answer; set here from then on
  setText(label, text);
}

function render(data) {
  shown = data;
  const waiting = data.sales.reduce((sum, sale) => sum + sale.waiting, 0);
  byId("tile-rate").textContent = rates ? rate(rates.total) : "—";
  byId("tile-waiting").textContent = number(waiting);
  const dead = byId("tile-dead");
  dead.textContent = number(data.dead_letters);
  dead.closest(".tile").classList.toggle("tile--alert", data.dead_letters > 0);
  byId("tile-at").textContent = localTime(data.at);
  renderSales(data.sales);
  renderPartitions(data.partitions);
  // The overview's sales are as fresh as the streams': share them with the other views
  // (the stock form's list of sales, too, learns of sales created elsewhere).
  for (const sale of data.sales) {
    const { accepted: _a, rejected: _r, waiting: _w, ...view } = sale;
    store.put(view);
  }
}

function cells(row, values) {
  // Updated in place, so the table does not flicker once a second.
  values.forEach((value, i) => {
    const cell = row.cells[i];
    if (value instanceof Node) {
      if (cell.firstChild?.isEqualNode?.(value)) return;
      replace(cell, value);
    } else if (cell.textContent !== value) {
      cell.textContent = value;
    }
  });
}

// The cells' labels (shown before each value on small screens) in the active language.
function relabel(body, columns) {
  for (const row of body.rows) [...row.cells].forEach((cell, i) => cell.setAttribute("data-label", t(columns[i])));
}

function keyedRows(body, items, key, columns) {
  const existing = new Map([...body.rows].map((row) => [row.dataset.key, row]));
  const rows = items.map((item) => {
    const id = String(key(item));
    let row = existing.get(id);
    if (!row) row = h("tr", { "data-key": id }, columns.map((column, i) => h(i === 0 ? "th" : "td", { "data-label": t(column), scope: i === 0 ? "row" : null })));
    existing.delete(id);
    return row;
  });
  for (const stale of existing.values()) stale.remove();
  rows.forEach((row, i) => {
    if (body.rows[i] !== row) body.insertBefore(row, body.rows[i] || null);
  });
  return rows;
}

const SALE_COLUMNS = [
  "operator.column.sale",
  "operator.column.state",
  "operator.column.accepted",
  "operator.column.rejected",
  "operator.column.remaining",
  "operator.column.waiting",
  "operator.column.rate",
  "operator.column.report",
];

function renderSales(sales) {
  const body = byId("operator-sales-body");
  // Running sales first, then upcoming, then the rest, newest first within each.
  const order = { active: 0, sold_out: 1, scheduled: 2, ended: 3 };
  const sorted = [...sales].sort((a, b) => order[a.state] - order[b.state] || Date.parse(b.starts_at) - Date.parse(a.starts_at));
  byId("operator-sales-empty").hidden = sales.length > 0;
  byId("operator-sales").hidden = sales.length === 0;
  const rows = keyedRows(body, sorted, (sale) => sale.sale_id, SALE_COLUMNS);
  sorted.forEach((sale, i) => {
    const perSale = rates?.perSale.get(sale.sale_id);
    cells(rows[i], [
      sale.name,
      h("span", { class: `badge badge--${sale.state}` }, tEnum("sale.state", sale.state)),
      number(sale.accepted),
      number(sale.rejected),
      `${number(sale.remaining)} / ${number(sale.stock)}`,
      number(sale.waiting),
      perSale === undefined ? "—" : rate(perSale),
      h("button", { type: "button", class: "button button--ghost-dark button--small", "data-report": sale.sale_id }, t("operator.report"), h("span", { class: "visually-hidden" }, ` ${sale.name}`)),
    ]);
  });
}

const PARTITION_COLUMNS = ["operator.column.partition", "operator.column.queue", "operator.column.ready", "operator.column.consumers"];

function renderPartitions(partitions) {
  const body = byId("operator-partitions-body");
  const rows = keyedRows(body, partitions, (p) => p.partition, PARTITION_COLUMNS);
  partitions.forEach((p, i) => {
    let consumers = t("operator.consumers_one", { count: p.consumers });
    if (p.consumers === 0) consumers = h("span", { class: "badge badge--danger" }, t("operator.consumers_none", { count: 0 }));
    if (p.consumers > 1) consumers = t("operator.consumers_standby", { count: p.consumers, standby: p.consumers - 1 });
    cells(rows[i], [String(p.partition), h("code", {}, p.queue), number(p.ready), consumers]);
  });
}

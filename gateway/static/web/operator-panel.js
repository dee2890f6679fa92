// The operator panel: GET /api/v1/admin/overview once a second while the admin view is on
// screen: per-sale counters and decision rates, each partition's queue and consumers, and
// the dead letters.

import { overview, isSessionError } from "./api.js";
import { h, byId, replace, setNotice } from "./dom.js";
import { describe } from "./errors.js";
import { decisionRates, reading } from "./rates.js";
import * as store from "./sales-store.js";
import { localTime, retryIn } from "./time.js";

const INTERVAL_MS = 1000;
const MAX_BACKOFF_MS = 10000;
const STATE_LABELS = { scheduled: "Upcoming", active: "On sale", sold_out: "Sold out", ended: "Ended" };
const integer = new Intl.NumberFormat();
const rate = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });

let running = false;
let timer = 0;
let controller = null;
let previous = null;
let rates = null;
let failures = 0;

export function init() {
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
    status("live", "Live · every second");
    setNotice(byId("operator-notice"), "");
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    if (isSessionError(error)) return;
    if (error.code === "forbidden") {
      running = false;
      status("error", "Stopped");
      setNotice(byId("operator-notice"), describe(error), "error");
      return;
    }
    failures++;
    delay = Math.min(MAX_BACKOFF_MS, Math.max(INTERVAL_MS * 2 ** failures, (error.retryAfter || 0) * 1000));
    status("error", `Retrying ${retryIn(delay / 1000)}`);
    setNotice(byId("operator-notice"), `The overview is unavailable. ${describe(error)}`, "error");
  }
  if (running && !document.hidden) timer = window.setTimeout(poll, delay);
}

function status(kind, text) {
  const el = byId("operator-status");
  el.dataset.state = kind;
  byId("operator-status-text").textContent = text;
}

function render(data) {
  const waiting = data.sales.reduce((sum, sale) => sum + sale.waiting, 0);
  byId("tile-rate").textContent = rates ? rate.format(rates.total) : "—";
  byId("tile-waiting").textContent = integer.format(waiting);
  const dead = byId("tile-dead");
  dead.textContent = integer.format(data.dead_letters);
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

function keyedRows(body, items, key, labels) {
  const existing = new Map([...body.rows].map((row) => [row.dataset.key, row]));
  const rows = items.map((item) => {
    const id = String(key(item));
    let row = existing.get(id);
    if (!row) row = h("tr", { "data-key": id }, labels.map((label, i) => h(i === 0 ? "th" : "td", { "data-label": label, scope: i === 0 ? "row" : null })));
    existing.delete(id);
    return row;
  });
  for (const stale of existing.values()) stale.remove();
  rows.forEach((row, i) => {
    if (body.rows[i] !== row) body.insertBefore(row, body.rows[i] || null);
  });
  return rows;
}

const SALE_COLUMNS = ["Sale", "State", "Accepted", "Rejected", "Remaining", "Waiting", "Decisions/s"];

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
      h("span", { class: `badge badge--${sale.state}` }, STATE_LABELS[sale.state] || sale.state),
      integer.format(sale.accepted),
      integer.format(sale.rejected),
      `${integer.format(sale.remaining)} / ${integer.format(sale.stock)}`,
      integer.format(sale.waiting),
      perSale === undefined ? "—" : rate.format(perSale),
    ]);
  });
}

const PARTITION_COLUMNS = ["Partition", "Queue", "Messages waiting", "Consumers"];

function renderPartitions(partitions) {
  const body = byId("operator-partitions-body");
  const rows = keyedRows(body, partitions, (p) => p.partition, PARTITION_COLUMNS);
  partitions.forEach((p, i) => {
    const consumers =
      p.consumers === 0
        ? h("span", { class: "badge badge--danger" }, "0 · none")
        : `${integer.format(p.consumers)} (1 active${p.consumers > 1 ? `, ${p.consumers - 1} standby` : ""})`;
    cells(rows[i], [String(p.partition), h("code", {}, p.queue), integer.format(p.ready), consumers]);
  });
}

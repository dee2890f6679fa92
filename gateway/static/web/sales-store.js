// The sales the page knows about, by id: filled from GET /api/v1/sales and kept current by
// the sale streams. The views read it; a change notifies them.

import { listSales } from "./api.js";

const sales = new Map();
const listeners = new Set();
// Sales with an open stream: its events are newer than a list answer that was in flight
// while they arrived, so a reload does not overwrite them.
const live = new Set();

/** Mark a sale as followed by a stream (or not). */
export function setLive(saleId, isLive) {
  if (isLive) live.add(saleId);
  else live.delete(saleId);
}

/** Call `listener(sale)` for each changed sale, and `listener(null)` after a full reload. */
export function onChange(listener) {
  listeners.add(listener);
}

function emit(sale) {
  for (const listener of listeners) listener(sale);
}

export const get = (saleId) => sales.get(saleId) || null;
export const all = () => [...sales.values()];

const FIELDS = [
  "name", "stock", "remaining", "starts_at", "ends_at", "per_user_limit", "state", "waitlist_size", "waitlisted",
  "payment_window_seconds", "waiting_room_opens_at", "fair_window_seconds", "pow_difficulty", "in_waiting_room",
  "drawn_at", "draw_seed",
];
// The product and the price are objects: compared by their JSON.
const TERMS = ["product", "price"];
const same = (a, b) =>
  FIELDS.every((field) => a[field] === b[field]) && TERMS.every((field) => JSON.stringify(a[field]) === JSON.stringify(b[field]));

/** Record a sale from an answer or an event; notifies only if something changed. */
export function put(sale) {
  const before = sales.get(sale.sale_id);
  if (before && same(before, sale)) return;
  sales.set(sale.sale_id, sale);
  emit(sale);
}

/** Reload the whole list (sales are never deleted, but the list is the truth). */
export async function refresh() {
  const list = await listSales();
  const ids = new Set(list.map((sale) => sale.sale_id));
  for (const id of [...sales.keys()]) if (!ids.has(id)) sales.delete(id);
  for (const sale of list) if (!live.has(sale.sale_id) || !sales.has(sale.sale_id)) sales.set(sale.sale_id, sale);
  emit(null);
  return list;
}

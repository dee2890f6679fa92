// My orders (GET /api/v1/orders): one row per confirmed purchase, newest first, with its
// price and whether it is paid (or still to pay, by when).

import { listOrders, isSessionError } from "./api.js";
import { h, byId, replace, setNotice, announce } from "./dom.js";
import { describe } from "./errors.js";
import { money, onLanguageChange, t, tEnum } from "./i18n.js";
import * as store from "./sales-store.js";
import { localDateTime, localTime } from "./time.js";

let shown = []; // the orders on screen, to render them again in another language

export function init() {
  byId("orders-refresh").addEventListener("click", () => show(true));
  onLanguageChange(() => replace(byId("orders-body"), shown.map(row)));
}

/** Load and show the orders; `announceDone` says so to screen readers (the Refresh button). */
export async function show(announceDone = false) {
  const notice = byId("orders-notice");
  const table = byId("orders-table");
  setNotice(notice, () => t("orders.loading"), "info");
  try {
    // Sale names come from the sale list; load it too if this view is the first shown.
    const [orders] = await Promise.all([listOrders(), store.all().length ? null : store.refresh().catch(() => null)]);
    setNotice(notice, "");
    byId("orders-empty").hidden = orders.length > 0;
    table.hidden = orders.length === 0;
    shown = orders;
    replace(byId("orders-body"), orders.map(row));
    if (announceDone) announce(t("orders.loaded", { count: orders.length }));
  } catch (error) {
    if (isSessionError(error)) return;
    setNotice(notice, () => t("orders.load_failed", { reason: describe(error) }), "error");
  }
}

function status(order) {
  const badge = h("span", { class: `badge badge--${order.status}` }, tEnum("order.status", order.status));
  if (order.status !== "awaiting_payment" || !order.pay_by) return badge;
  return [badge, " ", h("span", { class: "orders__pay-by" }, t("orders.pay_by", { time: localTime(order.pay_by) }))];
}

function row(order) {
  const sale = store.get(order.sale_id);
  const name = sale?.name || order.product?.name;
  return h(
    "tr",
    { "data-order-id": order.order_id, "data-status": order.status },
    h("td", { "data-label": t("orders.column.sale") }, name || h("code", {}, order.sale_id)),
    h("td", { "data-label": t("orders.column.price"), class: "orders__price" }, order.price ? money(order.price.amount, order.price.currency) : "—"),
    h("td", { "data-label": t("orders.column.status") }, status(order)),
    h("td", { "data-label": t("orders.column.placed") }, h("time", { datetime: order.created_at }, localDateTime(order.created_at))),
    h("td", { "data-label": t("orders.column.order") }, h("code", {}, order.order_id)),
    h("td", { "data-label": t("orders.column.ticket") }, h("code", {}, order.ticket_id)),
  );
}

export function reset() {
  shown = [];
  replace(byId("orders-body"));
  byId("orders-table").hidden = true;
  byId("orders-empty").hidden = true;
  setNotice(byId("orders-notice"), "");
}

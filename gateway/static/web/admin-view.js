// Admin forms: create a sale and add stock to one. The server checks the admin role; the
// page only hides the view from other users.

import { addStock, createSale, isSessionError } from "./api.js";
import { h, byId, replace, announce } from "./dom.js";
import { busy, clearErrors, showError, showSuccess } from "./form.js";
import { onLanguageChange, setText, t, tEnum } from "./i18n.js";
import * as store from "./sales-store.js";
import { localInputToRfc3339, toLocalInput, utcOffsetLabel, localDateTime } from "./time.js";
import * as operator from "./operator-panel.js";

export function init() {
  const createForm = byId("create-sale-form");
  const stockForm = byId("stock-form");
  createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(createForm);
    busy(createForm, "admin.creating", () => submitSale(createForm));
  });
  stockForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(stockForm);
    busy(stockForm, "admin.adding", () => submitStock(stockForm));
  });
  store.onChange(() => fillSaleChoices());
  onLanguageChange(() => fillSaleChoices());
  operator.init();
}

/** An integer if the text is one; otherwise the text, for the server to explain (422). */
function integer(text) {
  return /^\s*-?\d+\s*$/.test(text) ? Number(text) : text;
}

function defaults(form) {
  // Starts now (to the minute: it is open at once), ends in an hour.
  const start = new Date();
  start.setSeconds(0, 0);
  form.elements.namedItem("starts_at").value = toLocalInput(start);
  form.elements.namedItem("ends_at").value = toLocalInput(new Date(start.getTime() + 3600 * 1000));
  setText(byId("sale-tz"), () => t("admin.time_zone", { offset: utcOffsetLabel() }));
}

async function submitSale(form) {
  const data = new FormData(form);
  const body = {
    name: String(data.get("name") || ""),
    stock: integer(String(data.get("stock") || "")),
    per_user_limit: integer(String(data.get("per_user_limit") || "1")),
  };
  // A field left empty or unreadable is sent missing: the server names it (422).
  for (const field of ["starts_at", "ends_at"]) {
    const value = localInputToRfc3339(String(data.get(field) || ""));
    if (value) body[field] = value;
  }
  try {
    const sale = await createSale(body);
    store.put(sale);
    const text = () => t("admin.created", { name: sale.name, count: sale.stock, start: localDateTime(sale.starts_at) });
    form.reset();
    defaults(form);
    showSuccess(form, text);
    announce(text());
    operator.refreshSoon();
  } catch (error) {
    if (!isSessionError(error)) showError(form, error);
  }
}

async function submitStock(form) {
  const data = new FormData(form);
  const saleId = String(data.get("sale_id") || "");
  const sale = store.get(saleId);
  try {
    const result = await addStock(saleId, integer(String(data.get("add") || "")));
    const params = { name: sale?.name, count: result.added, stock: result.stock, remaining: result.remaining };
    const text = () => {
      if (result.applied) return sale ? t("admin.stock_added", params) : t("admin.stock_added_unnamed", params);
      return sale ? t("admin.stock_queued", params) : t("admin.stock_queued_unnamed", params);
    };
    form.elements.namedItem("add").value = "";
    showSuccess(form, text);
    announce(text());
    operator.refreshSoon();
  } catch (error) {
    if (!isSessionError(error)) showError(form, error, { notFound: "admin.sale_gone" });
  }
}

// Rebuilt only when a sale's label changes: rebuilding an open <select> would close it.
let choices = "";
function fillSaleChoices() {
  const select = byId("stock-sale");
  const sales = store.all().sort((a, b) => Date.parse(b.starts_at) - Date.parse(a.starts_at));
  const options = sales.map((sale) => [sale.sale_id, t("admin.sale_choice", { name: sale.name, state: tEnum("sale.state_word", sale.state) })]);
  const signature = JSON.stringify(options);
  if (signature === choices) return;
  choices = signature;
  const chosen = select.value;
  replace(
    select,
    options.length ? null : h("option", { value: "" }, t("admin.no_sales")),
    options.map(([id, label]) => h("option", { value: id, selected: id === chosen }, label)),
  );
}

export async function show() {
  const form = byId("create-sale-form");
  if (!form.elements.namedItem("starts_at").value) defaults(form);
  operator.start();
  try {
    await store.refresh();
  } catch {
    // The operator panel says when the server is unreachable.
  }
}

export function hide() {
  operator.stop();
}

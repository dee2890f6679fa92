// The admin view: the operator panel (with its sale reports), the form that creates a sale
// (sale-form.js) and the one that adds stock to a sale. The server checks the admin role;
// the page only hides the view from other users.

import { addStock, isSessionError } from "./api.js";
import { h, byId, replace, announce } from "./dom.js";
import { busy, clearErrors, showError, showSuccess } from "./form.js";
import { onLanguageChange, t, tEnum } from "./i18n.js";
import * as store from "./sales-store.js";
import * as saleForm from "./sale-form.js";
import * as operator from "./operator-panel.js";

export function init() {
  const stockForm = byId("stock-form");
  saleForm.init(() => operator.refreshSoon());
  stockForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(stockForm);
    busy(stockForm, "admin.adding", () => submitStock(stockForm));
  });
  store.onChange(() => fillSaleChoices());
  onLanguageChange(() => fillSaleChoices());
  operator.init();
}

async function submitStock(form) {
  const data = new FormData(form);
  const saleId = String(data.get("sale_id") || "");
  const sale = store.get(saleId);
  try {
    const result = await addStock(saleId, saleForm.integer(String(data.get("add") || "")));
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
  saleForm.show();
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

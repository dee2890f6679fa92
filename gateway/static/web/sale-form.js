// The admin's "Create a sale" form: the sale's terms (with its fair start: a waiting room,
// a fair window and a proof of work, all optional) and what it sells, in one go. The
// product is one of the catalogue's (GET /api/v1/admin/products) or a new one described
// in the form, created first (POST /api/v1/admin/products); left as it is, the form sells a
// new product named like the sale at the pre-filled price.

import { createProduct, createSale, isSessionError, listProducts } from "./api.js";
import { h, byId, replace, announce } from "./dom.js";
import { busy, clearErrors, renameFields, showError, showSuccess } from "./form.js";
import { locale, money, onLanguageChange, setText, t } from "./i18n.js";
import * as store from "./sales-store.js";
import { localInputToRfc3339, toLocalInput, utcOffsetLabel, localDateTime } from "./time.js";

// The currencies the API takes (the Money schema), the form's default first.
const CURRENCIES = ["EUR", "USD", "GBP", "CHF", "AUD", "BHD", "BRL", "CAD", "CNY", "CZK", "DKK", "HKD", "HUF", "IDR", "ILS", "INR", "ISK", "JPY", "KRW", "KWD", "MXN", "NOK", "NZD", "PLN", "RON", "SEK", "SGD", "THB", "TRY", "TWD", "ZAR"];

let products = []; // the catalogue, as last loaded
let onCreated = () => {};

/** Wire the form; `created(sale)` is called after each sale it creates. */
export function init(created) {
  onCreated = created;
  const form = byId("create-sale-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    busy(form, "admin.creating", () => submit(form));
  });
  form.elements.namedItem("product_id").addEventListener("change", () => showProductFields(form));
  onLanguageChange(() => {
    fillProducts();
    fillCurrencies();
  });
  fillProducts();
  fillCurrencies();
}

/** The view is shown: fill in the defaults and load the catalogue. */
export async function show() {
  const form = byId("create-sale-form");
  if (!form.elements.namedItem("starts_at").value) defaults(form);
  try {
    products = await listProducts();
    fillProducts();
  } catch {
    // The form still creates new products; the operator panel says when the server is away.
  }
}

/** An integer if the text is one; otherwise the text, for the server to explain (422). */
export function integer(text) {
  return /^\s*-?\d+\s*$/.test(text) ? Number(text) : text;
}

/**
 * An amount typed in the currency's main unit ("49.99", "49,99", "1299") as an integer of
 * its minor unit (4999); otherwise the text, for the server to explain (422).
 */
export function minorUnits(text, currency) {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  const m = /^\s*(\d+)(?:[.,](\d*))?\s*$/.exec(text);
  if (!m || (m[2] || "").length > digits) return text;
  return Number(m[1] + (m[2] || "").padEnd(digits, "0"));
}

function defaults(form) {
  // Starts now (to the minute: it is open at once), ends in an hour.
  const start = new Date();
  start.setSeconds(0, 0);
  form.elements.namedItem("starts_at").value = toLocalInput(start);
  form.elements.namedItem("ends_at").value = toLocalInput(new Date(start.getTime() + 3600 * 1000));
  setText(byId("sale-tz"), () => t("admin.time_zone", { offset: utcOffsetLabel() }));
  showProductFields(form);
}

function fillCurrencies() {
  const select = byId("product-currency");
  const chosen = select.value || CURRENCIES[0];
  let names = null;
  try {
    names = new Intl.DisplayNames([locale()], { type: "currency" });
  } catch {
    names = null; // an old browser: the codes alone
  }
  const label = (code) => (names ? t("admin.currency_choice", { code, name: names.of(code) }) : code);
  replace(select, CURRENCIES.map((code) => h("option", { value: code }, label(code))));
  select.value = chosen;
}

function fillProducts() {
  const select = byId("sale-product");
  const chosen = select.value;
  const sorted = [...products].sort((a, b) => a.name.localeCompare(b.name, locale()));
  replace(
    select,
    h("option", { value: "" }, t("admin.new_product")),
    sorted.map((p) => h("option", { value: p.product_id }, t("admin.product_choice", { name: p.name, price: money(p.price.amount, p.price.currency) }))),
  );
  // Set as the value, not as the options' default: resetting the form goes back to "new".
  select.value = sorted.some((p) => p.product_id === chosen) ? chosen : "";
  showProductFields(byId("create-sale-form"));
}

function showProductFields(form) {
  byId("new-product").hidden = Boolean(form.elements.namedItem("product_id").value);
}

const text = (data, name) => String(data.get(name) || "").trim();

// A field of the product request as the form names it ("price.amount" is "product_price");
// the name, when left empty, was the sale's.
function productField(field, titled) {
  const [head, tail] = field.split(".");
  if (head === "name") return titled ? "product_name" : "name";
  if (head === "price") return tail === "currency" ? "currency" : "product_price";
  return field;
}

// The new product described in the form; null if the server refused it (shown on the form).
async function newProduct(form, data) {
  const currency = text(data, "currency") || CURRENCIES[0];
  const title = text(data, "product_name");
  const body = {
    name: title || text(data, "name"),
    price: { amount: minorUnits(text(data, "product_price"), currency), currency },
  };
  if (text(data, "description")) body.description = text(data, "description");
  if (text(data, "image_url")) body.image_url = text(data, "image_url");
  try {
    const product = await createProduct(body);
    products = [...products, product];
    fillProducts();
    // Chosen from now on: sending the form again (after a refused sale) does not create it twice.
    form.elements.namedItem("product_id").value = product.product_id;
    showProductFields(form);
    return product;
  } catch (error) {
    if (isSessionError(error)) return null;
    showError(form, renameFields(error, (field) => productField(field, Boolean(title))));
    return null;
  }
}

async function submit(form) {
  const data = new FormData(form);
  let product = products.find((p) => p.product_id === text(data, "product_id"));
  if (!product) product = await newProduct(form, data);
  if (!product) return;
  const body = {
    name: String(data.get("name") || ""),
    stock: integer(String(data.get("stock") || "")),
    per_user_limit: integer(String(data.get("per_user_limit") || "1")),
    product_id: product.product_id,
    payment_window_seconds: integer(text(data, "payment_window_seconds") || "600"),
    waitlist_size: integer(text(data, "waitlist_size") || "0"),
    fair_window_seconds: integer(text(data, "fair_window_seconds") || "0"),
    pow_difficulty: integer(text(data, "pow_difficulty") || "0"),
  };
  if (text(data, "sale_price")) {
    body.price = { amount: minorUnits(text(data, "sale_price"), product.price.currency), currency: product.price.currency };
  }
  // A field left empty or unreadable is sent missing: the server names it (422). The waiting
  // room is optional: left empty, there is none (the API's default).
  for (const field of ["starts_at", "ends_at", "waiting_room_opens_at"]) {
    const value = localInputToRfc3339(String(data.get(field) || ""));
    if (value) body[field] = value;
  }
  try {
    const sale = await createSale(body);
    store.put(sale);
    const done = () => t("admin.created", { name: sale.name, count: sale.stock, start: localDateTime(sale.starts_at) });
    form.reset();
    defaults(form);
    showSuccess(form, done);
    announce(done());
    onCreated(sale);
  } catch (error) {
    if (isSessionError(error)) return;
    showError(form, renameFields(error, (field) => (field.split(".")[0] === "price" ? "sale_price" : field)));
  }
}

// The page in the reader's language: `t(key, params)` looks a text up in the active catalog
// (messages-*.js), and numbers and money are formatted for the active locale. The language is
// the reader's choice (kept in localStorage), else the first of the browser's languages that
// has a catalog, else English. Static text in index.html names its key in `data-i18n` (the
// element's text) or `data-i18n-attr` ("aria-label:nav.label title:other.key"); a switch
// re-translates those, re-renders texts set with `setText`, and tells every `onLanguageChange`
// listener, so that the views re-render what they built.

import en from "./messages-en.js";
import de from "./messages-de.js";

const CATALOGS = { en, de };
const FALLBACK = "en";
const STORAGE_KEY = "flashsale.language";

let active = FALLBACK;
const listeners = new Set();
const formats = new Map(); // "Intl class|locale|options" -> formatter

const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const primary = (tag) => String(tag).split("-")[0].toLowerCase();
const browserLanguages = () => (navigator.languages?.length ? navigator.languages : [navigator.language || FALLBACK]);

/** The languages there are catalogs for: [{code, name}], each named in itself. */
export const languages = () => Object.keys(CATALOGS).map((code) => ({ code, name: CATALOGS[code]["language.name"] }));

/** The active language ("en", "de"). */
export const language = () => active;

/**
 * The active BCP 47 locale for Intl: the browser's own tag for the active language where it
 * has one ("en-GB", "de-AT": dates and numbers as the reader knows them), else the language.
 */
export function locale() {
  const tag = browserLanguages().find((candidate) => primary(candidate) === active);
  try {
    return tag ? Intl.getCanonicalLocales(tag)[0] : active;
  } catch {
    return active; // a tag Intl does not accept
  }
}

/** Whether the catalogs have `key` (error codes the page may not know, say). */
export const hasText = (key) => has(CATALOGS[FALLBACK], key);

/** The words for an API enum value ("sale.state", "active"), or the value if it is new to us. */
export const tEnum = (prefix, value) => (hasText(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value));

function cached(kind, options) {
  const key = `${kind.name}|${locale()}|${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new kind(locale(), options));
  return formats.get(key);
}

/** A number for the reader ("1,250" or "1.250"); `options` as for Intl.NumberFormat. */
export const number = (value, options = {}) => cached(Intl.NumberFormat, options).format(value);

/**
 * An amount of money from its integer count of minor units (cents): `money(129900, "EUR")`
 * is "€1,299.00" in en-GB, "1.299,00 €" in de-DE, and `money(1299, "JPY")` "¥1,299", since
 * the currency's own number of fraction digits divides it (a decimal string, so exact).
 */
export function money(amountMinor, currency) {
  const format = cached(Intl.NumberFormat, { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits;
  const units = String(Math.abs(Math.trunc(amountMinor))).padStart(digits + 1, "0");
  const decimal = digits ? `${units.slice(0, -digits)}.${units.slice(-digits)}` : units;
  return format.format(`${amountMinor < 0 ? "-" : ""}${decimal}`);
}

function lookup(key, count) {
  // A key missing here is a bug the unit test catches; the key itself beats an empty page.
  const value = has(CATALOGS[active], key) ? CATALOGS[active][key] : has(CATALOGS[FALLBACK], key) ? CATALOGS[FALLBACK][key] : key;
  if (typeof value === "string") return value;
  return value[cached(Intl.PluralRules, {}).select(count ?? 0)] ?? value.other;
}

const shown = (value) => (typeof value === "number" ? number(value) : value);

/**
 * The text of `key` with its {name} placeholders filled from `params` (numbers formatted for
 * the locale); a text with plural forms picks one by `params.count`.
 */
export function t(key, params = {}) {
  return lookup(key, params.count).replace(/\{(\w+)\}/g, (match, name) => (has(params, name) ? String(shown(params[name])) : match));
}

/** Like `t`, as a list of strings and the params themselves, so a param can be a DOM node. */
export function tParts(key, params = {}) {
  return lookup(key, params.count)
    .split(/(\{\w+\})/)
    .filter(Boolean)
    .map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      return name && has(params, name) ? shown(params[name]) : part;
    });
}

const RENDER = Symbol("render");

/** Show `text` in `el`: a string, or a function giving it again after a language switch. */
export function setText(el, text) {
  el[RENDER] = typeof text === "function" ? text : null;
  el.textContent = (el[RENDER] ? el[RENDER]() : text) || "";
}

/** Translate `root`'s data-i18n texts and attributes, and re-render its `setText` texts. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(/\s+/).filter(Boolean)) {
      const [attribute, key] = pair.split(":");
      el.setAttribute(attribute, t(key));
    }
  }
  for (const el of root.querySelectorAll("*")) if (el[RENDER]) el.textContent = el[RENDER]() || "";
}

/** Call `listener(language)` after every switch, once the static text is translated. */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

function apply(code) {
  active = code;
  document.documentElement.lang = code;
  translatePage();
}

/** Switch to `code` (a key of the catalogs) and remember the choice; views re-render. */
export function setLanguage(code) {
  if (!has(CATALOGS, code)) throw new Error(`no catalog for language ${code}`);
  try {
    window.localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // Storage refused (a private window, say): the choice lasts until the page is left.
  }
  if (code === active) return;
  apply(code);
  for (const listener of listeners) listener(code);
}

/** Choose the language for this page load and translate the static text. */
export function startI18n() {
  let chosen = null;
  try {
    chosen = window.localStorage.getItem(STORAGE_KEY);
  } catch {
    chosen = null;
  }
  const browser = browserLanguages().map(primary).find((code) => has(CATALOGS, code));
  apply(chosen && has(CATALOGS, chosen) ? chosen : browser || FALLBACK);
}

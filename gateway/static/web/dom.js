// Building and updating the DOM without innerHTML: every piece of text from the server (a
// sale's name, an error message) goes in as a text node, so it can never become markup.

import { setText } from "./i18n.js";

/** An element with attributes and children (strings become text nodes; null is skipped). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el;
}

/**
 * Show `text` in a message element (hidden when empty), styled by `kind`. `text` may be a
 * function giving it, so that a language switch re-words the message (see i18n.setText).
 */
export function setNotice(el, text, kind = "info") {
  setText(el, text || "");
  el.hidden = !el.textContent;
  el.classList.remove("notice--info", "notice--error", "notice--success", "notice--warning");
  if (el.classList.contains("notice")) el.classList.add(`notice--${kind}`);
}

// Screen readers read a live region when its text changes; clearing it first and setting
// the text a moment later makes the same message heard again when it repeats.
function speak(region, text) {
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 60);
}

/** Say a status change to screen-reader users without moving focus. */
export function announce(text) {
  speak(byId("announce-polite"), text);
}

/** Say an error to screen-reader users at once. */
export function alertUser(text) {
  speak(byId("announce-alert"), text);
}

/** Empty both announcement regions (a new session must not find the last one's words). */
export function silence() {
  byId("announce-polite").textContent = "";
  byId("announce-alert").textContent = "";
}

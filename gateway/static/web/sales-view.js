// The list of sales: each with its product, countdown, live stock bar, state, Buy button and
// the tickets bought from it. A sale with a fair start says so: while its waiting room is open
// the button joins the room, and after the draw the card names when it was drawn and its seed.
// A sale with a proof of work has it solved (pow.js) before each purchase.

import { placePurchase, uuid4, isSessionError } from "./api.js";
import { h, byId, replace, setNotice, announce, alertUser } from "./dom.js";
import { describe, notActiveText } from "./errors.js";
import { onLanguageChange, setText, t, tEnum, tParts } from "./i18n.js";
import { SaleStream } from "./sale-stream.js";
import * as store from "./sales-store.js";
import * as tickets from "./tickets.js";
import { renderProduct } from "./product-view.js";
import { proveWork } from "./pow.js";
import { drawTime, orderLabel, renderDraw, renderTicketCard, statusLabel, statusText } from "./ticket-card.js";
import { duration, localDateTime, localTime } from "./time.js";

// At most this many sale streams at once: with the ticket streams (ticket-follow.js) they
// must leave a connection free for requests (browsers allow 6 per origin over HTTP/1.1).
// The other sales are refreshed by reloading the list.
const MAX_SALE_STREAMS = 3;
const LIST_REFRESH_MS = 10000;
// How long after its draw time a sale with no stream is reloaded each second to see the draw.
const DRAW_RELOAD_MS = 60000;
// Refusals that are the sale's state, not a failure: shown as warnings.
const WARNINGS = new Set(["sold_out", "sale_not_active", "already_in_waiting_room"]);

const cards = new Map(); // sale_id -> {el, refs}
const streams = new Map(); // sale_id -> SaleStream
let visible = false;
let refreshTimer = 0;
let clockTimer = 0;
let loadedOnce = false;

export function init() {
  store.onChange((sale) => (sale ? renderSale(sale) : renderAll()));
  tickets.onChange(onTicket);
  // Card messages re-word themselves (setText); the rest of each card is rendered again.
  onLanguageChange(() => {
    if (loadedOnce) renderAll();
    streamStatus();
  });
}

/** The view is shown: load the list, open the streams, tick the countdowns. */
export async function show() {
  visible = true;
  await reload();
  clockTimer = window.setInterval(tick, 1000);
}

/** The view is hidden: close the streams (they hold connections) and stop the timers. */
export function hide() {
  visible = false;
  window.clearTimeout(refreshTimer);
  window.clearInterval(clockTimer);
  for (const id of [...streams.keys()]) closeStream(id);
}

/** Forget everything (log-out). */
export function reset() {
  hide();
  cards.clear();
  replace(byId("sale-list"));
  loadedOnce = false;
}

async function reload() {
  window.clearTimeout(refreshTimer);
  const notice = byId("sales-notice");
  try {
    await store.refresh();
    setNotice(notice, "");
  } catch (error) {
    if (isSessionError(error)) return;
    // Keep showing what we have; say the list may be stale and try again shortly.
    setNotice(notice, () => t("sales.load_failed", { reason: describe(error) }), "error");
  }
  if (visible) refreshTimer = window.setTimeout(reload, LIST_REFRESH_MS);
}

function rank(sale) {
  return sale.state === "ended" ? 1 : 0;
}

function ordered() {
  return store.all().sort((a, b) => rank(a) - rank(b) || Date.parse(a.starts_at) - Date.parse(b.starts_at));
}

function renderAll() {
  const list = ordered();
  for (const sale of list) renderSale(sale, false);
  for (const id of [...cards.keys()]) {
    if (!store.get(id)) {
      cards.get(id).el.remove();
      cards.delete(id);
    }
  }
  arrange(list);
  loadedOnce = true;
  byId("sales-empty").hidden = list.length > 0;
  chooseStreams(list);
}

// Puts the cards in order without needlessly moving any: moving an element out of the
// document would blur a focused Buy button inside it, so moveBefore (which keeps focus)
// is used where the browser has it, and focus is put back otherwise.
function arrange(list) {
  const container = byId("sale-list");
  let cursor = container.firstElementChild;
  for (const sale of list) {
    const { el } = cards.get(sale.sale_id);
    if (el === cursor) {
      cursor = cursor.nextElementSibling;
      continue;
    }
    if (typeof container.moveBefore === "function" && el.isConnected) {
      container.moveBefore(el, cursor);
    } else {
      const focused = el.contains(document.activeElement) ? document.activeElement : null;
      container.insertBefore(el, cursor);
      focused?.focus();
    }
  }
}

function chooseStreams(list) {
  if (!visible) return;
  const priority = { active: 0, waiting_room: 0, sold_out: 1, scheduled: 2 };
  const wanted = new Set(
    list
      .filter((sale) => sale.state in priority)
      .sort((a, b) => priority[a.state] - priority[b.state] || Date.parse(a.starts_at) - Date.parse(b.starts_at))
      .slice(0, MAX_SALE_STREAMS)
      .map((sale) => sale.sale_id),
  );
  for (const id of [...streams.keys()]) if (!wanted.has(id)) closeStream(id);
  for (const id of wanted) {
    if (streams.has(id)) continue;
    store.setLive(id, true);
    streams.set(id, new SaleStream(id, { onSale: (sale) => store.put(sale), onStatus: streamStatus }));
  }
  streamStatus();
}

function closeStream(id) {
  streams.get(id)?.stop();
  streams.delete(id);
  store.setLive(id, false);
}

let retrying = false;
function streamStatus(status) {
  if (status) retrying = status === "retrying";
  const meta = byId("sales-meta");
  meta.classList.toggle("is-live", streams.size > 0 && !retrying);
  meta.textContent = streams.size === 0 ? "" : retrying ? t("sales.reconnecting") : t("sales.live");
}

function createCard(sale) {
  const id = sale.sale_id;
  const nameId = `sale-name-${id}`;
  const refs = {
    name: h("h2", { class: "sale-card__name", id: nameId }),
    state: h("span", { class: "badge" }),
    product: h("div", { class: "product" }),
    when: h("p", { class: "sale-card__when" }),
    fill: h("div", { class: "stock__fill" }),
    stockText: h("p", { class: "stock__text" }),
    limit: h("p", { class: "sale-card__limit" }),
    terms: h("p", { class: "sale-card__terms" }),
    waitlist: h("p", { class: "sale-card__waitlist", hidden: true }),
    fair: h("p", { class: "sale-card__fair", hidden: true }),
    buyName: h("span", { class: "visually-hidden" }),
    message: h("p", { class: "sale-card__message", hidden: true }),
    tickets: h("ul", { class: "ticket-list" }),
    buyLabel: h("span", { class: "buy__label" }),
  };
  refs.buy = h(
    "button",
    { type: "button", class: "button button--primary buy", onclick: () => buy(id) },
    refs.buyLabel,
    " ",
    refs.buyName,
  );
  const el = h(
    "li",
    { class: "sale-card", id: `sale-${id}`, "data-sale-id": id },
    h(
      "article",
      { "aria-labelledby": nameId },
      h("div", { class: "sale-card__head" }, refs.name, refs.state),
      refs.product,
      refs.when,
      h("div", { class: "stock" }, h("div", { class: "stock__bar", "aria-hidden": "true" }, refs.fill), refs.stockText),
      refs.waitlist,
      refs.fair,
      h("div", { class: "sale-card__foot" }, h("div", {}, refs.limit, refs.terms), refs.buy),
      refs.message,
      refs.tickets,
    ),
  );
  const card = { el, refs, busy: false };
  cards.set(id, card);
  return card;
}

function renderSale(sale, arrangeNow = true) {
  let card = cards.get(sale.sale_id);
  const isNew = !card;
  if (!card) card = createCard(sale);
  const { refs } = card;
  const stateChanged = card.el.dataset.state !== sale.state;
  card.el.dataset.state = sale.state;
  refs.name.textContent = sale.name;
  refs.buyName.textContent = sale.name;
  refs.tickets.setAttribute("aria-label", t("sale.tickets"));
  refs.state.textContent = tEnum("sale.state", sale.state);
  refs.state.className = `badge badge--${sale.state}`;
  const share = sale.stock > 0 ? Math.min(1, sale.remaining / sale.stock) : 0;
  // CSSOM, not a style attribute: the Content-Security-Policy forbids inline styles.
  refs.fill.style.transform = `scaleX(${share})`;
  refs.fill.classList.toggle("is-low", share > 0 && share <= 0.2);
  refs.stockText.textContent = t("sale.stock_left", { remaining: sale.remaining, stock: sale.stock });
  refs.limit.textContent = t("sale.limit", { limit: sale.per_user_limit });
  refs.terms.textContent = sale.payment_window_seconds ? t("sale.pay_within", { duration: duration(sale.payment_window_seconds) }) : "";
  renderProduct(refs.product, sale);
  renderWaitlist(sale, refs.waitlist);
  const closed = sale.state === "scheduled" || sale.state === "ended";
  refs.buy.setAttribute("aria-disabled", String(closed || card.busy));
  refs.buy.classList.toggle("is-closed", closed);
  renderClock(card, sale);
  for (const entry of tickets.forSale(sale.sale_id)) renderTicket(card, entry);
  if (isNew && arrangeNow) {
    renderAll();
  } else if (stateChanged && !isNew && arrangeNow) {
    renderAll();
    if (sale.state !== "ended") clearMessageIfStale(card, sale);
  }
}

// Once no unit is left, a sale with a waitlist still takes buyers: say so, and how many wait.
function renderWaitlist(sale, el) {
  const open = sale.waitlist_size > 0 && sale.remaining === 0 && sale.state === "active";
  el.hidden = !open;
  el.textContent = open ? t("sale.waitlist_open", { count: sale.waitlisted ?? 0 }) : "";
}

/** Whether a purchase now joins the sale's waiting room (its room is open, or its fair window). */
function joinsRoom(sale, now = Date.now()) {
  if (sale.state === "waiting_room") return true;
  return hasFairStart(sale) && sale.state === "active" && !sale.drawn_at && now < drawTime(sale);
}

const hasFairStart = (sale) => Boolean(sale.waiting_room_opens_at) || sale.fair_window_seconds > 0;

// What moves with the clock: the countdown, the button's words (the fair window closes by
// time), the fair-start line and the countdown of tickets waiting for the draw.
function renderClock(card, sale) {
  const { refs } = card;
  renderWhen(sale, refs.when);
  const inRoom = joinsRoom(sale);
  refs.buyLabel.textContent = card.busy ? t("sale.buying") : inRoom ? t("sale.join_room") : t("sale.buy");
  renderFair(sale, refs.fair);
  // "Already in the waiting room" is wrong once the room has closed.
  if (!inRoom && refs.message.dataset.code === "already_in_waiting_room") showMessage(card, "");
  for (const entry of tickets.forSale(sale.sale_id)) {
    if (entry.ticket.status !== "waiting_room") continue;
    const li = refs.tickets.querySelector(`[data-ticket-id="${CSS.escape(entry.ticket.ticket_id)}"]`);
    if (li?.ticketParts) renderDraw(li.ticketParts.draw, entry.ticket, sale);
  }
}

// A fair start: before the draw, when it happens and how many wait; after it, when it was
// drawn and the seed anyone can check the order with.
function renderFair(sale, el) {
  const time = (value) => h("time", { datetime: new Date(value).toISOString() }, localTime(value));
  let parts = null;
  if (sale.drawn_at && sale.draw_seed) {
    parts = tParts("sale.drawn", { time: time(sale.drawn_at), seed: h("code", {}, sale.draw_seed) });
  } else if (hasFairStart(sale) && !sale.drawn_at && (sale.state === "scheduled" || joinsRoom(sale))) {
    parts = [t("sale.fair_start", { time: localTime(drawTime(sale)) })];
    if (sale.state !== "scheduled") parts.push(" ", t("sale.in_room", { count: sale.in_waiting_room ?? 0 }));
  }
  el.hidden = !parts;
  replace(el, parts);
}

function clearMessageIfStale(card, sale) {
  // A "not started" message is wrong once the sale opens (or its waiting room does).
  const open = sale.state === "active" || sale.state === "waiting_room";
  if (open && card.refs.message.dataset.code === "sale_not_active") {
    showMessage(card, "");
  }
}

function renderWhen(sale, el) {
  const now = Date.now();
  const starts = Date.parse(sale.starts_at);
  const ends = Date.parse(sale.ends_at);
  const time = (iso) => h("time", { datetime: iso }, localDateTime(iso));
  const opens = sale.waiting_room_opens_at ? Date.parse(sale.waiting_room_opens_at) : null;
  if (sale.state === "scheduled" && opens && opens > now) {
    const countdown = t("sale.room_opens_in", { duration: duration((opens - now) / 1000) });
    replace(el, h("strong", { class: "countdown" }, countdown), " · ", time(sale.waiting_room_opens_at));
  } else if (sale.state === "scheduled" || sale.state === "waiting_room") {
    const left = (starts - now) / 1000;
    const countdown = left > 0 ? t("sale.starts_in", { duration: duration(left) }) : t("sale.opening");
    replace(el, h("strong", { class: "countdown" }, countdown), " · ", time(sale.starts_at));
  } else if (sale.state === "ended") {
    replace(el, tParts("sale.ended_at", { time: time(sale.ends_at) }));
  } else {
    const left = (ends - now) / 1000;
    const soon = left > 0 && left < 3600;
    replace(el, soon ? tParts("sale.ends_in", { duration: duration(left), time: time(sale.ends_at) }) : tParts("sale.ends_at", { time: time(sale.ends_at) }));
  }
}

// Once a second: move the countdowns; a sale whose start or end time passed without an
// event (it has no stream) is reloaded to learn its new state.
let pendingReload = false;
function tick() {
  const now = Date.now();
  for (const sale of store.all()) {
    const card = cards.get(sale.sale_id);
    if (card) renderClock(card, sale);
    const past = (iso) => Boolean(iso) && Date.parse(iso) <= now - 1000;
    const drawDue = hasFairStart(sale) && !sale.drawn_at && drawTime(sale) <= now - 1000 && drawTime(sale) > now - DRAW_RELOAD_MS;
    const due =
      (sale.state === "scheduled" && (past(sale.starts_at) || past(sale.waiting_room_opens_at))) ||
      (sale.state === "waiting_room" && past(sale.starts_at)) ||
      (sale.state !== "ended" && past(sale.ends_at)) ||
      (sale.state !== "ended" && drawDue);
    if (due && !streams.has(sale.sale_id) && !pendingReload) {
      pendingReload = true;
      reload().finally(() => {
        pendingReload = false;
      });
    }
  }
}

/** Show `text` (or a function giving it in the active language) under the Buy button. */
function showMessage(card, text, kind = "error", code = "") {
  const { message } = card.refs;
  setText(message, text);
  message.hidden = !message.textContent;
  message.className = `sale-card__message notice notice--${kind}`;
  message.dataset.code = code;
}

async function buy(saleId) {
  const card = cards.get(saleId);
  const sale = store.get(saleId);
  if (!card || !sale || card.busy) return;
  if (sale.state === "scheduled" || sale.state === "ended") {
    showMessage(card, () => notActiveText(sale), "warning", "sale_not_active");
    alertUser(card.refs.message.textContent);
    return;
  }
  // Busy, not disabled: a disabled button would drop the keyboard focus.
  card.busy = true;
  card.refs.buy.setAttribute("aria-disabled", "true");
  card.refs.buyLabel.textContent = t("sale.buying");
  showMessage(card, "");
  try {
    // One key per click: retries of this click (inside placePurchase) reuse it.
    const receipt = await purchase(card, sale, uuid4());
    if (card.refs.message.dataset.code === "pow") showMessage(card, "");
    tickets.add(receipt, saleId);
  } catch (error) {
    if (isSessionError(error)) return;
    const kind = WARNINGS.has(error.code) ? "warning" : "error";
    showMessage(card, () => describe(error, { sale, notFound: "sale.gone" }), kind, error.code);
    alertUser(t("purchase.failed", { sale: sale.name, reason: card.refs.message.textContent }));
  } finally {
    card.busy = false;
    const current = store.get(saleId) || sale;
    renderClock(card, current);
    card.refs.buy.setAttribute("aria-disabled", String(current.state === "scheduled" || current.state === "ended"));
  }
}

/**
 * One click's purchase. For a sale with a proof of work a challenge is solved first, its
 * progress shown under the button. A proof the gateway refuses (pow_invalid: it expired while
 * the page was busy, say) is made again once from a fresh challenge, as is one for a sale that
 * asks for it though the page did not know (pow_required). Every attempt sends the same key.
 */
async function purchase(card, sale, key) {
  let needed = sale.pow_difficulty > 0;
  for (let attempt = 0; ; attempt++) {
    let proof = null;
    if (needed) {
      const onProgress = (percent) => showMessage(card, () => t("pow.progress", { percent }), "info", "pow");
      onProgress(0);
      proof = await proveWork(sale.sale_id, { onProgress });
    }
    try {
      return await placePurchase(sale.sale_id, key, { proof });
    } catch (error) {
      const again = attempt === 0 && (error.code === "pow_invalid" || (error.code === "pow_required" && !needed));
      if (!again) throw error;
      needed = true;
    }
  }
}

function renderTicket(card, entry) {
  const id = entry.ticket.ticket_id;
  let li = card.refs.tickets.querySelector(`[data-ticket-id="${CSS.escape(id)}"]`);
  if (!li) {
    li = h("li");
    card.refs.tickets.prepend(li); // newest first
  }
  renderTicketCard(li, entry, store.get(entry.ticket.sale_id));
}

// Order statuses worth saying when they come (awaiting payment comes with "confirmed").
const SETTLED_ORDER = new Set(["paid", "expired", "refunded"]);

function onTicket(entry, previous) {
  const { ticket } = entry;
  const card = cards.get(ticket.sale_id);
  if (card) renderTicket(card, entry);
  const sale = store.get(ticket.sale_id);
  const name = sale ? sale.name : t("purchase.yours");
  const status = statusText(ticket, sale);
  if (previous === null && ticket.status === "waiting_room") {
    announce(t("purchase.in_room", { sale: name, status }));
  } else if (previous === null && ticket.status === "queued") {
    announce(t("purchase.queued", { sale: name, status }));
  } else if (previous !== null && previous.drawn_position == null && ticket.drawn_position != null) {
    announce(t("purchase.drawn", { sale: name, position: ticket.drawn_position, status }));
  } else if (previous !== null && previous.status !== ticket.status) {
    announce(t("purchase.status", { sale: name, label: statusLabel(ticket.status), status }));
  } else if (previous !== null && SETTLED_ORDER.has(ticket.order_status) && previous.order_status !== ticket.order_status) {
    announce(t("purchase.status", { sale: name, label: orderLabel(ticket.order_status), status }));
  }
}

export const isLoaded = () => loadedOnce;

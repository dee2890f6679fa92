// The pay step of a ticket whose order awaits payment: the price, a countdown to pay_by, a
// choice of test card, the Pay button, and what became of the payment in words. One element
// per order, kept across re-renders of its ticket card, so the chosen card and the keyboard
// focus survive every update; the countdown moves once a second.

import { h, replace, announce, alertUser } from "./dom.js";
import { describe } from "./errors.js";
import { hasText, money, t } from "./i18n.js";
import * as payments from "./payments.js";
import { duration, localTime } from "./time.js";

/** The simulated provider's test cards (payment methods), with their catalog keys. */
export const CARDS = [
  ["pm_card_visa", "pay.card.visa"],
  ["pm_card_chargeDeclined", "pay.card.declined"],
  ["pm_card_slow", "pay.card.slow"],
];

const steps = new Map(); // order_id -> {el, refs, ticket, sale, phase}
let clock = 0;

payments.onChange((orderId) => {
  const step = steps.get(orderId);
  if (step) render(step);
});

/**
 * Where paying `orderId` stands: "ready", "processing", "declined", "error" (the request
 * failed: see its error), or "paid", "expired", "refunded" before the ticket says so.
 */
export function phase(orderId, now = Date.now()) {
  const tried = payments.attempt(orderId);
  const status = tried?.payment?.status;
  if (status === "succeeded" || tried?.error?.code === "already_paid") return "paid";
  if (status === "refund_pending" || status === "refunded") return "refunded";
  if (tried?.error?.code === "order_not_payable") return "expired";
  const payBy = payments.order(orderId)?.pay_by;
  // The server expires the order a moment after pay_by; the clock says it first.
  if (payBy && Date.parse(payBy) <= now) return "expired";
  if (tried?.sending || status === "processing") return "processing";
  if (status === "failed") return "declined";
  return tried?.error ? "error" : "ready";
}

/** The words for a phase ("" for none). */
function phaseText(orderId, current) {
  const tried = payments.attempt(orderId);
  switch (current) {
    case "processing":
      return t("pay.processing");
    case "declined": {
      const code = tried.payment.failure_code;
      const reason = code && hasText(`payment_failure.${code}`) ? t(`payment_failure.${code}`) : t("payment_failure.unknown");
      return t("pay.declined", { reason });
    }
    case "error":
      return describe(tried.error);
    case "paid":
      return t("pay.paid");
    case "expired":
      return t("pay.expired");
    case "refunded":
      return t("pay.refunded");
    default:
      return "";
  }
}

function create(orderId) {
  const titleId = `pay-title-${orderId}`;
  const refs = {
    title: h("h3", { class: "pay__title", id: titleId }),
    amount: h("strong", { class: "pay__amount" }),
    countdown: h("strong", { class: "pay__countdown", role: "timer" }),
    deadline: h("span", { class: "pay__deadline" }),
    legend: h("legend"),
    cards: CARDS.map(([method], i) => h("input", { type: "radio", name: `card-${orderId}`, value: method, checked: i === 0 })),
    labels: CARDS.map(() => h("span")),
    buttonLabel: h("span"),
    status: h("p", { class: "pay__status", hidden: true }),
  };
  refs.when = h("p", { class: "pay__when" }, refs.countdown, " · ", refs.deadline);
  refs.fieldset = h(
    "fieldset",
    { class: "pay__cards" },
    refs.legend,
    CARDS.map((_, i) => h("label", { class: "pay__card" }, refs.cards[i], refs.labels[i])),
  );
  refs.button = h("button", { type: "button", class: "button button--primary pay__button", onclick: () => submit(orderId) }, refs.buttonLabel);
  const el = h(
    "section",
    { class: "pay", "aria-labelledby": titleId, "data-order-id": orderId },
    h("div", { class: "pay__head" }, refs.title, refs.amount),
    refs.when,
    refs.fieldset,
    refs.button,
    refs.status,
  );
  return { el, refs, ticket: null, sale: null, phase: null };
}

/** The pay step of a confirmed `ticket` whose order awaits payment, created or brought up to date. */
export function payStep(ticket, sale) {
  const orderId = ticket.order_id;
  let step = steps.get(orderId);
  if (!step) {
    step = create(orderId);
    steps.set(orderId, step);
  }
  step.ticket = ticket;
  step.sale = sale;
  payments.load(orderId);
  render(step);
  if (!clock) clock = window.setInterval(tick, 1000);
  return step.el;
}

function render(step) {
  const { refs } = step;
  const orderId = step.ticket.order_id;
  const order = payments.order(orderId);
  const price = order?.price || step.sale?.price;
  const now = Date.now();
  const current = phase(orderId, now);
  const open = current === "ready" || current === "declined" || current === "error" || current === "processing";
  step.el.dataset.phase = current;
  refs.title.textContent = t("pay.step");
  refs.amount.textContent = price ? money(price.amount, price.currency) : "";
  refs.legend.textContent = t("pay.choose_card");
  CARDS.forEach(([, key], i) => {
    refs.labels[i].textContent = t(key);
  });
  refs.buttonLabel.textContent = current === "processing" ? t("pay.paying") : t("pay.now", { price: refs.amount.textContent });
  refs.button.setAttribute("aria-disabled", String(current === "processing"));
  refs.when.hidden = !open || !order?.pay_by;
  refs.fieldset.hidden = !open;
  refs.button.hidden = !open;
  countdown(step, now);
  const text = phaseText(orderId, current);
  refs.status.textContent = text;
  refs.status.hidden = !text;
  refs.status.className = `pay__status notice notice--${KIND[current] || "info"}`;
  if (step.phase !== null && step.phase !== current && text) {
    if (current === "declined" || current === "error") alertUser(text);
    else announce(text);
  }
  step.phase = current;
}

const KIND = { declined: "error", error: "error", expired: "warning", refunded: "warning", paid: "success" };

function countdown(step, now) {
  const payBy = payments.order(step.ticket.order_id)?.pay_by;
  if (!payBy) return;
  const left = Math.max(0, (Date.parse(payBy) - now) / 1000);
  step.refs.countdown.textContent = t("pay.time_left", { duration: duration(left) });
  replace(step.refs.deadline, h("time", { datetime: payBy }, t("pay.by", { time: localTime(payBy) })));
}

// Once a second: move the countdowns; a step whose time ran out shows it at once.
function tick() {
  const now = Date.now();
  let live = 0;
  for (const step of steps.values()) {
    if (!step.el.isConnected || step.ticket.order_status !== "awaiting_payment") continue;
    live++;
    if (phase(step.ticket.order_id, now) !== step.phase) render(step);
    else countdown(step, now);
  }
  if (!live) {
    window.clearInterval(clock);
    clock = 0;
  }
}

async function submit(orderId) {
  const step = steps.get(orderId);
  if (!step || step.refs.button.getAttribute("aria-disabled") === "true") return;
  const chosen = step.refs.cards.find((input) => input.checked) || step.refs.cards[0];
  await payments.pay(orderId, chosen.value);
}

/** Forget every step (log-out). */
export function reset() {
  steps.clear();
  window.clearInterval(clock);
  clock = 0;
}

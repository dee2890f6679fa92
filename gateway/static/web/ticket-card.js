// One purchase's card: its status moving queued → accepted → confirmed (or waiting on the
// waitlist first), then its order paid, expired or refunded, or rejected with the reason in
// words. A purchase of a fair start's waiting room starts in the room, with the countdown to
// the draw, then shows its drawn place. While the order awaits payment the card holds its
// pay step (pay-step.js).

import { h, replace } from "./dom.js";
import { rejectionText, describe } from "./errors.js";
import { t, tEnum, tParts } from "./i18n.js";
import { payStep } from "./pay-step.js";
import { duration } from "./time.js";

// What a confirmed ticket's order status means, by `order_status` (null: an order from
// before payments, complete as it is).
const ORDER_TEXTS = {
  awaiting_payment: "ticket.text.awaiting_payment",
  paid: "ticket.text.paid",
  expired: "ticket.text.expired",
  refunded: "ticket.text.refunded",
};

const POSITION_TEXTS = { queued: "ticket.position", waitlisted: "ticket.waitlist_position" };

/** What a status means, in a sentence; used on the card and for screen readers. */
export function statusText(ticket, sale) {
  switch (ticket.status) {
    case "waiting_room":
      return t("ticket.text.waiting_room");
    case "queued":
      return ticket.position ? t("ticket.text.queued_at", { position: ticket.position }) : t("ticket.text.queued");
    case "waitlisted":
      return t("ticket.text.waitlisted", { position: ticket.position ?? "?" });
    case "accepted":
      return t("ticket.text.accepted");
    case "confirmed":
      return t(ORDER_TEXTS[ticket.order_status] || "ticket.text.confirmed");
    case "rejected":
      return rejectionText(ticket.reason, sale);
    default:
      return ticket.status;
  }
}

export const statusLabel = (status) => tEnum("ticket.status", status);
export const orderLabel = (status) => tEnum("order.status", status);

/** When a sale's waiting room is drawn: the end of its fair window, in ms since the epoch. */
export const drawTime = (sale) => Date.parse(sale.starts_at) + (sale.fair_window_seconds || 0) * 1000;

// A ticket that was in a waiting room: waiting for the draw now, or drawn already.
const fromRoom = (ticket) => ticket.status === "waiting_room" || ticket.drawn_position != null;

function steps(ticket, viaWaitlist) {
  const room = fromRoom(ticket) ? ["waiting_room"] : [];
  if (ticket.status === "rejected") {
    return stepList([...room, "queued", "rejected"].map(statusLabel), room.length + 1, ticket);
  }
  const names = [...room, viaWaitlist || ticket.status === "waitlisted" ? "waitlisted" : "queued", "accepted", "confirmed"];
  const labels = names.map(statusLabel);
  let reached = names.indexOf(ticket.status);
  if (ticket.order_status) {
    // The last step is the payment: "Paid" ahead, or how the order ended.
    const ended = ticket.order_status === "expired" || ticket.order_status === "refunded";
    labels.push(orderLabel(ended ? ticket.order_status : "paid"));
    if (ticket.order_status !== "awaiting_payment") reached = labels.length - 1;
  }
  return stepList(labels, reached, ticket);
}

function stepList(labels, reached, ticket) {
  const failed = ticket.status === "rejected" || ticket.order_status === "expired" || ticket.order_status === "refunded";
  // Decorative: the same facts are in the status label and sentence.
  return h(
    "ol",
    { class: "steps", "aria-hidden": "true" },
    labels.map((label, i) => {
      const state = i < reached ? " is-done" : i === reached ? ` is-current${failed ? " is-failed" : ""}` : "";
      return h("li", { class: `steps__step${state}` }, label);
    }),
  );
}

function skeleton(el) {
  const parts = {
    head: h("div", { class: "ticket__head" }),
    steps: h("div"),
    text: h("p", { class: "ticket__text", tabindex: "-1" }),
    draw: h("p", { class: "ticket__draw", hidden: true }),
    pay: h("div", { class: "ticket__pay" }),
    detail: h("div", { class: "ticket__detail" }),
    id: h("p", { class: "ticket__id" }),
  };
  replace(el, Object.values(parts));
  el.ticketParts = parts;
  return parts;
}

/**
 * Render (or re-render) `entry` ({ticket, error, viaWaitlist}) into `el`, an <li>. Its parts
 * are updated in place, so the pay step inside keeps its state and focus.
 */
export function renderTicketCard(el, entry, sale) {
  const { ticket } = entry;
  const parts = el.ticketParts || skeleton(el);
  el.className = `ticket ticket--${ticket.status}${ticket.order_status ? ` ticket--${ticket.order_status}` : ""}`;
  el.dataset.ticketId = ticket.ticket_id;
  el.dataset.status = ticket.status;
  el.dataset.orderStatus = ticket.order_status || "";
  const waiting = (ticket.status === "queued" || ticket.status === "waitlisted") && ticket.position;
  replace(
    parts.head,
    h(
      "span",
      { class: "ticket__badges" },
      h("span", { class: `badge badge--${ticket.status}` }, statusLabel(ticket.status)),
      ticket.status === "confirmed" && ticket.order_status ? h("span", { class: `badge badge--${ticket.order_status}` }, orderLabel(ticket.order_status)) : null,
    ),
    waiting ? h("span", { class: "ticket__position" }, t(POSITION_TEXTS[ticket.status], { position: ticket.position })) : null,
  );
  replace(parts.steps, steps(ticket, entry.viaWaitlist));
  parts.text.textContent = statusText(ticket, sale);
  renderDraw(parts.draw, ticket, sale);
  const paying = ticket.status === "confirmed" && ticket.order_status === "awaiting_payment" && ticket.order_id;
  const step = paying ? payStep(ticket, sale) : null;
  if (!step) {
    // The step goes once the order is settled: the focus, if it was there, goes to the news.
    const hadFocus = parts.pay.contains(document.activeElement);
    replace(parts.pay);
    if (hadFocus) parts.text.focus();
  } else if (parts.pay.firstChild !== step) replace(parts.pay, step);
  const detail = [];
  if (ticket.status === "confirmed" && ticket.order_id) {
    const order = h("code", { class: "ticket__order" }, ticket.order_id);
    detail.push(h("p", { class: "ticket__meta" }, tParts("ticket.order", { id: order })));
  }
  if (entry.error) {
    const reason = describe(entry.error, { notFound: "ticket.gone" });
    detail.push(h("p", { class: "ticket__error" }, t("ticket.unfollowable", { reason })));
  }
  replace(parts.detail, detail);
  replace(parts.id, tParts("ticket.id", { id: h("code", {}, ticket.ticket_id) }));
  return el;
}

/**
 * The waiting room's line of the card: the countdown to the draw while the ticket waits for
 * it, its drawn place once drawn (it stays, whatever is decided next). Called each second.
 */
export function renderDraw(el, ticket, sale) {
  let text = "";
  if (ticket.drawn_position != null) {
    text = t("ticket.drawn_position", { position: ticket.drawn_position });
  } else if (ticket.status === "waiting_room" && sale) {
    const left = (drawTime(sale) - Date.now()) / 1000;
    text = left > 0 ? t("ticket.draw_in", { duration: duration(left) }) : t("ticket.drawing");
  }
  el.textContent = text;
  el.hidden = !text;
  el.classList.toggle("is-drawn", ticket.drawn_position != null);
}

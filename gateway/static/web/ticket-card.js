// One purchase's card: its status moving queued → accepted → confirmed, or to rejected with
// the reason in words.

import { h, replace } from "./dom.js";
import { rejectionText, describe } from "./errors.js";

const LABELS = { queued: "Queued", accepted: "Accepted", confirmed: "Confirmed", rejected: "Rejected" };

/** What a status means, in a sentence; used on the card and for screen readers. */
export function statusText(ticket, sale) {
  switch (ticket.status) {
    case "queued":
      return ticket.position
        ? `In line: number ${ticket.position}. Your turn comes soon.`
        : "In line, waiting for its turn.";
    case "accepted":
      return "A unit is reserved for you. Writing your order…";
    case "confirmed":
      return "It's yours: the order is confirmed.";
    case "rejected":
      return rejectionText(ticket.reason, sale);
    default:
      return ticket.status;
  }
}

export const statusLabel = (status) => LABELS[status] || status;

function steps(ticket) {
  const rejected = ticket.status === "rejected";
  const names = rejected ? ["queued", "rejected"] : ["queued", "accepted", "confirmed"];
  const reached = names.indexOf(ticket.status);
  // Decorative: the same facts are in the status label and sentence.
  return h(
    "ol",
    { class: "steps", "aria-hidden": "true" },
    names.map((name, i) =>
      h("li", { class: `steps__step${i < reached ? " is-done" : ""}${i === reached ? " is-current" : ""}` }, LABELS[name]),
    ),
  );
}

/** Render (or re-render) `entry` ({ticket, error}) into `el`, an <li>. */
export function renderTicketCard(el, entry, sale) {
  const { ticket } = entry;
  el.className = `ticket ticket--${ticket.status}`;
  el.dataset.ticketId = ticket.ticket_id;
  el.dataset.status = ticket.status;
  const detail = [];
  if (ticket.status === "confirmed" && ticket.order_id) {
    detail.push(h("p", { class: "ticket__meta" }, "Order ", h("code", { class: "ticket__order" }, ticket.order_id)));
  }
  if (entry.error) {
    detail.push(h("p", { class: "ticket__error" }, `Can't follow this ticket: ${describe(entry.error, { notFound: "the ticket no longer exists." })}`));
  }
  replace(
    el,
    h(
      "div",
      { class: "ticket__head" },
      h("span", { class: `badge badge--${ticket.status}` }, statusLabel(ticket.status)),
      ticket.status === "queued" && ticket.position ? h("span", { class: "ticket__position" }, `#${ticket.position} in line`) : null,
    ),
    steps(ticket),
    h("p", { class: "ticket__text" }, statusText(ticket, sale)),
    ...detail,
    h("p", { class: "ticket__id" }, "Ticket ", h("code", {}, ticket.ticket_id)),
  );
  return el;
}

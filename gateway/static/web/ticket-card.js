// One purchase's card: its status moving queued → accepted → confirmed, or to rejected with
// the reason in words.

import { h, replace } from "./dom.js";
import { rejectionText, describe } from "./errors.js";
import { t, tEnum, tParts } from "./i18n.js";

/** What a status means, in a sentence; used on the card and for screen readers. */
export function statusText(ticket, sale) {
  switch (ticket.status) {
    case "queued":
      return ticket.position ? t("ticket.text.queued_at", { position: ticket.position }) : t("ticket.text.queued");
    case "waitlisted":
      return t("ticket.text.waitlisted", { position: ticket.position ?? "?" });
    case "accepted":
      return t("ticket.text.accepted");
    case "confirmed":
      return t("ticket.text.confirmed");
    case "rejected":
      return rejectionText(ticket.reason, sale);
    default:
      return ticket.status;
  }
}

export const statusLabel = (status) => tEnum("ticket.status", status);

function steps(ticket) {
  const rejected = ticket.status === "rejected";
  const names = rejected ? ["queued", "rejected"] : ["queued", "accepted", "confirmed"];
  const reached = names.indexOf(ticket.status);
  // Decorative: the same facts are in the status label and sentence.
  return h(
    "ol",
    { class: "steps", "aria-hidden": "true" },
    names.map((name, i) =>
      h("li", { class: `steps__step${i < reached ? " is-done" : ""}${i === reached ? " is-current" : ""}` }, statusLabel(name)),
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
    const order = h("code", { class: "ticket__order" }, ticket.order_id);
    detail.push(h("p", { class: "ticket__meta" }, tParts("ticket.order", { id: order })));
  }
  if (entry.error) {
    const reason = describe(entry.error, { notFound: "ticket.gone" });
    detail.push(h("p", { class: "ticket__error" }, t("ticket.unfollowable", { reason })));
  }
  replace(
    el,
    h(
      "div",
      { class: "ticket__head" },
      h("span", { class: `badge badge--${ticket.status}` }, statusLabel(ticket.status)),
      ticket.status === "queued" && ticket.position ? h("span", { class: "ticket__position" }, t("ticket.position", { position: ticket.position })) : null,
    ),
    steps(ticket),
    h("p", { class: "ticket__text" }, statusText(ticket, sale)),
    ...detail,
    h("p", { class: "ticket__id" }, tParts("ticket.id", { id: h("code", {}, ticket.ticket_id) })),
  );
  return el;
}

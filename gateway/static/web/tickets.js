// The tickets this user bought in this tab: followed until nothing more will change on them,
// kept in sessionStorage so that a reload shows them again (and resumes following the ones
// still open: in a waiting room, undecided, waitlisted, or with an order awaiting payment).

import { followTicket, settled } from "./ticket-follow.js";
import * as payments from "./payments.js";
import * as session from "./session.js";

const STORE_PREFIX = "flashsale.tickets.";
const KEEP = 50; // per user; the oldest go first

const tickets = new Map(); // ticket_id -> {ticket, via, error, stop, viaWaitlist}
const listeners = new Set();

/**
 * Call `listener(entry, previous)` whenever a ticket is added or changes; `previous` is the
 * ticket as it was ({status, order_status}), null for a new one.
 */
export function onChange(listener) {
  listeners.add(listener);
}

function emit(entry, previous) {
  for (const listener of listeners) listener(entry, previous);
}

const storeKey = () => STORE_PREFIX + session.userId();

function save() {
  if (!session.userId()) return;
  const list = [...tickets.values()].slice(-KEEP).map((entry) => entry.ticket);
  window.sessionStorage.setItem(storeKey(), JSON.stringify(list));
}

// Nothing more to follow: settled, or its order expired with no payment of ours on the way
// (only a late payment could still turn it into a refund).
function done(ticket) {
  if (settled(ticket)) return true;
  return ticket.status === "confirmed" && ticket.order_status === "expired" && !payments.pending(ticket.order_id);
}

function follow(entry) {
  entry.stop = followTicket(entry.ticket.ticket_id, {
    onTicket(ticket, via) {
      const previous = entry.ticket;
      entry.ticket = { ...entry.ticket, ...ticket };
      entry.via = via;
      if (ticket.status === "waitlisted") entry.viaWaitlist = true;
      if (ticket.order_id) payments.noteOrderStatus(ticket.order_id, ticket.order_status);
      save();
      emit(entry, previous);
    },
    onError(error) {
      entry.error = error;
      emit(entry, entry.ticket);
    },
    done,
  });
}

// A payment that ended (declined, say) may leave a ticket with nothing more to wait for.
payments.onChange((orderId) => {
  for (const entry of tickets.values()) {
    if (entry.ticket.order_id === orderId && done(entry.ticket)) entry.stop();
  }
});

/** Start following a ticket a purchase just returned ({ticket_id, status}) for `saleId`. */
export function add(receipt, saleId) {
  const existing = tickets.get(receipt.ticket_id);
  if (existing) return existing; // the same Idempotency-Key answered with the same ticket
  const entry = {
    ticket: {
      ticket_id: receipt.ticket_id,
      sale_id: saleId,
      status: receipt.status,
      reason: null,
      order_id: null,
      position: null,
      order_status: null,
      drawn_position: null,
    },
    via: null,
    error: null,
    stop: () => {},
    viaWaitlist: receipt.status === "waitlisted",
    createdAt: Date.now(),
  };
  tickets.set(receipt.ticket_id, entry);
  save();
  emit(entry, null);
  follow(entry);
  return entry;
}

/** Bring back this user's tickets from this tab's storage and follow the open ones. */
export function restore() {
  let stored = [];
  try {
    stored = JSON.parse(window.sessionStorage.getItem(storeKey()) || "[]");
  } catch {
    stored = [];
  }
  for (const ticket of stored) {
    if (!ticket || typeof ticket.ticket_id !== "string" || tickets.has(ticket.ticket_id)) continue;
    const entry = { ticket, via: null, error: null, stop: () => {}, viaWaitlist: false, createdAt: Date.now() };
    tickets.set(ticket.ticket_id, entry);
    emit(entry, ticket); // shown again, not announced again
    if (!done(ticket)) follow(entry);
  }
}

/** This user's tickets for a sale, oldest first. */
export function forSale(saleId) {
  return [...tickets.values()].filter((entry) => entry.ticket.sale_id === saleId);
}

/** Stop following everything and forget it (on log-out; the storage stays per user). */
export function clear() {
  for (const entry of tickets.values()) entry.stop();
  tickets.clear();
}

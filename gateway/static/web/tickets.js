// The tickets this user bought in this tab: followed until final, kept in sessionStorage so
// that a reload shows them again (and resumes following the ones still undecided).

import { followTicket, FINAL } from "./ticket-follow.js";
import * as session from "./session.js";

const STORE_PREFIX = "flashsale.tickets.";
const KEEP = 50; // per user; the oldest go first

const tickets = new Map(); // ticket_id -> {ticket, via, error, stop}
const listeners = new Set();

/** Call `listener(entry, previousStatus)` whenever a ticket is added or changes. */
export function onChange(listener) {
  listeners.add(listener);
}

function emit(entry, previousStatus) {
  for (const listener of listeners) listener(entry, previousStatus);
}

const storeKey = () => STORE_PREFIX + session.userId();

function save() {
  if (!session.userId()) return;
  const list = [...tickets.values()].slice(-KEEP).map((entry) => entry.ticket);
  window.sessionStorage.setItem(storeKey(), JSON.stringify(list));
}

function follow(entry) {
  entry.stop = followTicket(entry.ticket.ticket_id, {
    onTicket(ticket, via) {
      const previous = entry.ticket.status;
      entry.ticket = { ...entry.ticket, ...ticket };
      entry.via = via;
      save();
      emit(entry, previous);
    },
    onError(error) {
      entry.error = error;
      emit(entry, entry.ticket.status);
    },
  });
}

/** Start following a ticket a purchase just returned ({ticket_id, status}) for `saleId`. */
export function add(receipt, saleId) {
  const existing = tickets.get(receipt.ticket_id);
  if (existing) return existing; // the same Idempotency-Key answered with the same ticket
  const entry = {
    ticket: { ticket_id: receipt.ticket_id, sale_id: saleId, status: receipt.status, reason: null, order_id: null, position: null },
    via: null,
    error: null,
    stop: () => {},
    createdAt: Date.now(),
  };
  tickets.set(receipt.ticket_id, entry);
  save();
  emit(entry, null);
  follow(entry);
  return entry;
}

/** Bring back this user's tickets from this tab's storage and follow the undecided ones. */
export function restore() {
  let stored = [];
  try {
    stored = JSON.parse(window.sessionStorage.getItem(storeKey()) || "[]");
  } catch {
    stored = [];
  }
  for (const ticket of stored) {
    if (!ticket || typeof ticket.ticket_id !== "string" || tickets.has(ticket.ticket_id)) continue;
    const entry = { ticket, via: null, error: null, stop: () => {}, createdAt: Date.now() };
    tickets.set(ticket.ticket_id, entry);
    emit(entry, ticket.status); // shown again, not announced again
    if (!FINAL.has(ticket.status)) follow(entry);
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

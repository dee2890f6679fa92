// Paying for orders: each order's terms (GET /api/v1/orders/{id}: its price and pay_by) and
// its latest payment (GET /api/v1/orders/{id}/payments), followed until the provider has
// answered. The ticket (its `order_status`, live) says when the order is paid, expired or
// refunded; a declined card shows only in the payment, so that is asked while it processes.
// Loaded from the server, not kept in the tab: a reload, or another tab, finds it the same.

import { getOrder, isSessionError, listPayments, payOrder, sleep, uuid4 } from "./api.js";
import * as session from "./session.js";

const FOLLOW_FIRST_MS = 500;
const FOLLOW_MAX_MS = 3000;

const orders = new Map(); // order_id -> the order, as last fetched
const loading = new Map(); // order_id -> the fetch in flight
const attempts = new Map(); // order_id -> {payment, error, sending}: the latest payment
const settled = new Map(); // order_id -> "paid" | "expired" | "refunded", from its ticket
const listeners = new Set();

/** Call `listener(orderId)` whenever an order or its payment changes. */
export function onChange(listener) {
  listeners.add(listener);
}

function emit(orderId) {
  for (const listener of listeners) listener(orderId);
}

export const order = (orderId) => orders.get(orderId) || null;
export const attempt = (orderId) => attempts.get(orderId) || null;

/** Whether a payment of the order may still change its fate (so its ticket stays followed). */
export function pending(orderId) {
  const tried = attempts.get(orderId);
  return Boolean(tried?.sending) || tried?.payment?.status === "processing" || tried?.payment?.status === "succeeded";
}

/**
 * Fetch the order and its latest payment, once per order; retried a few times if the server
 * is unreachable. A payment still processing (from before a reload) is followed from here.
 */
export function load(orderId) {
  if (orders.has(orderId)) return Promise.resolve();
  if (loading.has(orderId)) return loading.get(orderId);
  const task = (async () => {
    for (let tries = 0; tries < 4; tries++) {
      try {
        const [found, payments] = await Promise.all([getOrder(orderId), listPayments(orderId)]);
        orders.set(orderId, found);
        if (!attempts.has(orderId) && payments.length) {
          const latest = { payment: payments.at(-1), error: null, sending: false };
          attempts.set(orderId, latest);
          follow(orderId, latest);
        }
        emit(orderId);
        return;
      } catch (error) {
        if (isSessionError(error) || error.status === 404) return;
        await sleep(500 * 2 ** tries);
      }
    }
  })();
  loading.set(orderId, task);
  return task.finally(() => loading.delete(orderId));
}

/** What the ticket says of the order now (its `order_status`); ends the following of a payment. */
export function noteOrderStatus(orderId, status) {
  if (status === "paid" || status === "expired" || status === "refunded") settled.set(orderId, status);
}

/**
 * Pay `orderId` with `method` (a test card). Resolves when the provider has answered or
 * the order is no longer payable; the outcome is in `attempt(orderId)`.
 */
export async function pay(orderId, method) {
  const current = attempts.get(orderId);
  if (current?.sending || current?.payment?.status === "processing") return;
  const next = { payment: null, error: null, sending: true };
  attempts.set(orderId, next);
  emit(orderId);
  try {
    // One Idempotency-Key per click: a retry of this click never charges twice.
    next.payment = await payOrder(orderId, method, uuid4());
  } catch (error) {
    next.error = error;
    if (error.code === "already_paid") settled.set(orderId, "paid");
    if (error.code === "order_not_payable" && !settled.has(orderId)) settled.set(orderId, "expired");
  } finally {
    next.sending = false;
    emit(orderId);
  }
  await follow(orderId, next);
}

async function follow(orderId, tried) {
  let delay = FOLLOW_FIRST_MS;
  const stillOurs = () => attempts.get(orderId) === tried && session.userId();
  while (stillOurs() && tried.payment?.status === "processing" && settled.get(orderId) !== "paid") {
    await sleep(delay);
    delay = Math.min(delay * 1.5, FOLLOW_MAX_MS);
    if (!stillOurs()) return;
    try {
      const found = (await listPayments(orderId)).find((p) => p.payment_id === tried.payment.payment_id);
      if (!found || found.status === tried.payment.status) continue;
      tried.payment = found;
      emit(orderId);
    } catch (error) {
      if (isSessionError(error)) return;
      // Unreachable for now: asked again after the next pause.
    }
  }
}

/** Forget everything (log-out). */
export function clear() {
  orders.clear();
  attempts.clear();
  settled.clear();
}

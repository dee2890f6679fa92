// Paying for orders: each order's terms (GET /api/v1/orders/{id}: its price and pay_by) and
// this tab's payment of it, followed until the provider has answered. The ticket (its
// `order_status`, live) says when the order is paid, expired or refunded; only a declined
// card shows nowhere else, so the payment itself is asked again while it is processing.
// Payments are kept in sessionStorage, so that a reload still knows what was tried.

import { getOrder, isSessionError, payOrder, sleep, uuid4 } from "./api.js";
import * as session from "./session.js";

const STORE_PREFIX = "flashsale.payments.";
const FOLLOW_FIRST_MS = 500;
const FOLLOW_MAX_MS = 3000;

const orders = new Map(); // order_id -> the order, as last fetched
const loading = new Map(); // order_id -> the fetch in flight
const attempts = new Map(); // order_id -> {key, method, payment, error, sending}
const settled = new Map(); // order_id -> "paid" | "expired" | "refunded", from its ticket
const listeners = new Set();

/** Call `listener(orderId)` whenever an order or its payment changes. */
export function onChange(listener) {
  listeners.add(listener);
}

function emit(orderId) {
  for (const listener of listeners) listener(orderId);
}

const storeKey = () => STORE_PREFIX + session.userId();

function save() {
  if (!session.userId()) return;
  const kept = [...attempts].map(([orderId, { key, method, payment }]) => [orderId, { key, method, payment }]);
  window.sessionStorage.setItem(storeKey(), JSON.stringify(kept.slice(-50)));
}

export const order = (orderId) => orders.get(orderId) || null;
export const attempt = (orderId) => attempts.get(orderId) || null;

/** Whether a payment of the order may still change its fate (so its ticket stays followed). */
export function pending(orderId) {
  const status = attempts.get(orderId)?.payment?.status;
  return Boolean(attempts.get(orderId)?.sending) || status === "processing" || status === "succeeded";
}

/** Fetch the order once (again if `fresh`); retried a few times if the server is unreachable. */
export function load(orderId, { fresh = false } = {}) {
  if (!fresh && (orders.has(orderId) || loading.has(orderId))) return loading.get(orderId) || Promise.resolve();
  const task = (async () => {
    for (let tries = 0; tries < 4; tries++) {
      try {
        orders.set(orderId, await getOrder(orderId));
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
 * Pay `orderId` with `method` (a test card). One Idempotency-Key per click, so a retry of
 * this click never charges twice. Resolves when the provider has answered or the order is
 * no longer payable; the outcome is in `attempt(orderId)`.
 */
export async function pay(orderId, method) {
  const current = attempts.get(orderId);
  if (current?.sending || current?.payment?.status === "processing") return;
  const next = { key: uuid4(), method, payment: null, error: null, sending: true };
  attempts.set(orderId, next);
  emit(orderId);
  try {
    next.payment = await payOrder(orderId, method, next.key);
  } catch (error) {
    next.error = error;
    if (error.code === "already_paid") settled.set(orderId, "paid");
    if (error.code === "order_not_payable" && !settled.has(orderId)) settled.set(orderId, "expired");
  } finally {
    next.sending = false;
    save();
    emit(orderId);
  }
  await follow(orderId, next);
}

// The payment's status now: the same request with the same key answers it as it is (and
// charges nothing). A GET of the order's payments would be the one call to change here.
const current = (orderId, { method, key }) => payOrder(orderId, method, key);

async function follow(orderId, tried) {
  let delay = FOLLOW_FIRST_MS;
  const stillOurs = () => attempts.get(orderId) === tried && session.userId();
  while (stillOurs() && tried.payment?.status === "processing" && settled.get(orderId) !== "paid") {
    await sleep(delay);
    delay = Math.min(delay * 1.5, FOLLOW_MAX_MS);
    if (!stillOurs()) return;
    try {
      const payment = await current(orderId, tried);
      if (payment.status === tried.payment.status) continue;
      tried.payment = payment;
      save();
      emit(orderId);
    } catch (error) {
      if (isSessionError(error)) return;
      // Unreachable for now: asked again after the next pause.
    }
  }
}

/** Bring back this user's payments from this tab's storage and follow those still processing. */
export function restore() {
  let stored = [];
  try {
    stored = JSON.parse(window.sessionStorage.getItem(storeKey()) || "[]");
  } catch {
    stored = [];
  }
  for (const [orderId, saved] of Array.isArray(stored) ? stored : []) {
    if (typeof orderId !== "string" || !saved?.key || attempts.has(orderId)) continue;
    const restored = { ...saved, error: null, sending: false };
    attempts.set(orderId, restored);
    follow(orderId, restored);
  }
}

/** Forget everything (log-out; the storage stays per user). */
export function clear() {
  orders.clear();
  attempts.clear();
  settled.clear();
}

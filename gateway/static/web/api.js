// The client of the public API (gateway/openapi.json): one function per operation, every
// failure thrown as an ApiError carrying the documented error code.

import * as session from "./session.js";

/** A failed request: an HTTP error answer, or `status` 0 when the server was not reached. */
export class ApiError extends Error {
  constructor(status, code, message, { details = null, retryAfter = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter; // seconds, from Retry-After
  }
}

const NETWORK = "network_error";

/** Seconds from a Retry-After header (delta-seconds or an HTTP date); null if absent. */
export function parseRetryAfter(value) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(1, Math.ceil((when - Date.now()) / 1000));
}

/** The ApiError for a non-2xx answer, from its JSON error body where it has one. */
export async function errorFrom(response) {
  let error = null;
  try {
    error = (await response.json()).error;
  } catch {
    // Not the API's JSON (a proxy's error page, say): described by its status alone.
  }
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  return new ApiError(
    response.status,
    error?.code || `http_${response.status}`,
    error?.message || response.statusText || `HTTP ${response.status}`,
    { details: error?.details ?? null, retryAfter },
  );
}

/**
 * Send one request. With `auth`, the session's bearer token goes with it, and a 401 ends
 * the session (the page drops back to the log-in view) before the error is thrown. The
 * answer's body is parsed as JSON unless `json` is false (then it is the text).
 */
export async function request(method, path, { body, auth = false, headers = {}, signal, json = true } = {}) {
  const all = { Accept: "application/json", ...headers };
  if (body !== undefined) all["Content-Type"] = "application/json";
  if (auth) {
    const token = session.token();
    if (!token) throw new ApiError(401, "missing_token", "not logged in");
    all.Authorization = `Bearer ${token}`;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, NETWORK, "the server could not be reached");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    // Whatever the code (expired, invalid, unknown key), the token is no good any more.
    if (auth && response.status === 401) session.end("expired");
    throw error;
  }
  const text = await response.text();
  const parsed = json ? (text ? JSON.parse(text) : null) : text;
  return { status: response.status, body: parsed, headers: response.headers };
}

export const isNetworkError = (error) => error instanceof ApiError && error.code === NETWORK;
export const isSessionError = (error) => error instanceof ApiError && error.status === 401;

// A random v4 UUID. crypto.randomUUID exists only in secure contexts (https, localhost); a
// gateway reached over plain http on another host still has crypto.getRandomValues.
export function uuid4() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const path = (id) => encodeURIComponent(id);

export const register = (username, password) =>
  request("POST", "/api/v1/auth/register", { body: { username, password } });

export async function login(username, password) {
  const { body } = await request("POST", "/api/v1/auth/login", { body: { username, password } });
  return body.access_token;
}

export const listSales = async () => (await request("GET", "/api/v1/sales")).body;

export const listOrders = async () => (await request("GET", "/api/v1/orders", { auth: true })).body;

export const getOrder = async (orderId, signal) =>
  (await request("GET", `/api/v1/orders/${path(orderId)}`, { auth: true, signal })).body;

/**
 * Pay an order with a test card. The same `key` goes with every attempt of one click, so a
 * retry after a lost answer gets the payment the first attempt started: never two charges.
 */
export async function payOrder(orderId, paymentMethod, key) {
  let networkRetries = 2;
  for (;;) {
    try {
      const { body } = await request("POST", `/api/v1/orders/${path(orderId)}/payments`, {
        body: { payment_method: paymentMethod },
        auth: true,
        headers: { "Idempotency-Key": key },
      });
      return body;
    } catch (error) {
      if (!isNetworkError(error) || networkRetries-- <= 0) throw error;
      await sleep(networkRetries === 1 ? 500 : 1500);
    }
  }
}

/** The order's payments, oldest first, each with how it ended (a declined card, say). */
export const listPayments = async (orderId, signal) =>
  (await request("GET", `/api/v1/orders/${path(orderId)}/payments`, { auth: true, signal })).body;

export const getTicket = async (ticketId, signal) =>
  (await request("GET", `/api/v1/tickets/${path(ticketId)}`, { auth: true, signal })).body;

/**
 * Buy one unit. The same `key` goes with every attempt of one click, so a retry after a
 * lost answer gets the ticket the first attempt created instead of buying a second unit.
 * Retried here: a network failure (twice) and `request_in_progress` (the first attempt is
 * still being queued; after its Retry-After). `proof`: the sale's proof of work
 * ("<challenge>:<nonce>", see pow.js) for a sale with a `pow_difficulty`.
 */
export async function placePurchase(saleId, key, { proof = null } = {}) {
  let networkRetries = 2;
  let inProgressRetries = 5;
  // Header names are case-insensitive; lower case keeps it apart from the page's words.
  const headers = proof ? { "Idempotency-Key": key, "x-pow-solution": proof } : { "Idempotency-Key": key };
  for (;;) {
    try {
      const { body } = await request("POST", `/api/v1/sales/${path(saleId)}/purchases`, {
        body: {},
        auth: true,
        headers,
      });
      return body;
    } catch (error) {
      if (isNetworkError(error) && networkRetries-- > 0) {
        await sleep(networkRetries === 1 ? 500 : 1500);
      } else if (error.code === "request_in_progress" && inProgressRetries-- > 0) {
        await sleep((error.retryAfter || 1) * 1000);
      } else {
        throw error;
      }
    }
  }
}

/** A proof-of-work challenge for buying from `saleId`: {challenge, difficulty, expires_at}. */
export const getChallenge = async (saleId, signal) =>
  (await request("GET", `/api/v1/sales/${path(saleId)}/challenge`, { auth: true, signal })).body;

export const listProducts = async () =>
  (await request("GET", "/api/v1/admin/products", { auth: true })).body;

export const createProduct = async (product) =>
  (await request("POST", "/api/v1/admin/products", { body: product, auth: true })).body;

export const saleReport = async (saleId, signal) =>
  (await request("GET", `/api/v1/admin/sales/${path(saleId)}/report`, { auth: true, signal })).body;

/** The report's timeline as CSV text (a link cannot send the bearer token, so it is fetched). */
export const saleReportCsv = async (saleId) =>
  (await request("GET", `/api/v1/admin/sales/${path(saleId)}/report?format=csv`, {
    auth: true,
    json: false,
    headers: { Accept: "text/csv" },
  })).body;

export const saleStats = async (saleId, signal) =>
  (await request("GET", `/api/v1/admin/sales/${path(saleId)}/stats`, { auth: true, signal })).body;

export const createSale = async (sale) =>
  (await request("POST", "/api/v1/admin/sales", { body: sale, auth: true })).body;

export async function addStock(saleId, add) {
  const { status, body } = await request("POST", `/api/v1/admin/sales/${path(saleId)}/stock`, {
    body: { add },
    auth: true,
  });
  return { applied: status === 200, ...body };
}

export const overview = async (signal) =>
  (await request("GET", "/api/v1/admin/overview", { auth: true, signal })).body;

export const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

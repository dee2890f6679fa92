// Every error the API can answer, in words for the person in front of the page. Codes are
// stable (the spec says so); messages are the server's, for people, and may change, so the
// words here are chosen by code and the server's message is only a last resort.

import { retryIn, localDateTime, duration } from "./time.js";

/** Labels of request fields, for validation errors ("Stock: must be at least 1"). */
const FIELD_LABELS = {
  username: "Username",
  password: "Password",
  name: "Name",
  stock: "Stock",
  starts_at: "Starts",
  ends_at: "Ends",
  per_user_limit: "Per-buyer limit",
  add: "Units to add",
};

/** Why a ticket was rejected (its `reason`). */
export function rejectionText(reason, sale) {
  switch (reason) {
    case "sold_out":
      return "Sold out: every unit was taken before your turn came.";
    case "limit_reached":
      return sale
        ? `Limit reached: you already have ${sale.per_user_limit} of this sale, the most one buyer can get.`
        : "Limit reached: you already have as many as one buyer can get.";
    case "sale_not_active":
      return "The sale was not open when your purchase was decided.";
    default:
      return "The purchase was rejected.";
  }
}

/** "the sale opens Fri 27 Nov, 09:00 (in 4 min)" or "the sale has ended", from its times. */
export function notActiveText(sale) {
  const now = Date.now();
  if (sale && Date.parse(sale.starts_at) > now) {
    const wait = (Date.parse(sale.starts_at) - now) / 1000;
    return `This sale has not started yet: it opens ${localDateTime(sale.starts_at)} (in ${duration(wait)}).`;
  }
  return "This sale has ended: purchases are closed.";
}

/** A field's label and the server's words about it, e.g. {field, label, text}. */
export function fieldErrors(error) {
  if (!Array.isArray(error.details)) return [];
  return error.details.map((detail) => {
    const field = String(detail.field ?? "");
    const label = FIELD_LABELS[field] || field;
    // pydantic prefixes custom rules with "Value error, ", and those rules often name their
    // field ("username must be ..."): noise next to the label.
    let message = String(detail.message ?? "is not valid").replace(/^Value error, /, "");
    const named = `${field.replace(/_/g, " ")} `;
    if (field && message.toLowerCase().startsWith(named)) message = message.slice(named.length);
    return { field, label, message, text: label ? `${label}: ${message}` : message };
  });
}

/**
 * One sentence (or a few) for an ApiError. `context` refines some: {sale} for purchase
 * errors, {action: "login" | "register"} for account ones.
 */
export function describe(error, context = {}) {
  const wait = retryIn(error.retryAfter);
  switch (error.code) {
    case "network_error":
      return "Can't reach the server. Check your connection and try again.";
    case "invalid_credentials":
      return "Wrong username or password.";
    case "too_many_attempts":
      return `Too many failed log-in attempts. Try again ${wait}.`;
    case "username_taken":
      return "That username is already taken (letter case doesn't count). Choose another one.";
    case "validation_error": {
      const fields = fieldErrors(error).map((f) => f.text);
      return fields.length ? `Please check: ${fields.join("; ")}.` : "Please check the form.";
    }
    case "sold_out":
      return "Sold out: no units are left. If more stock is added, you can try again.";
    case "sale_not_active":
      return notActiveText(context.sale);
    case "demand_exceeds_stock":
      return `The buyers already in line want far more than the units left. Try again ${wait}: the line may clear.`;
    case "request_in_progress":
      return `Your earlier click is still being queued. Try again ${wait}.`;
    case "overloaded":
      return `Too many purchases are waiting to be decided right now. Try again ${wait}.`;
    case "missing_token":
    case "invalid_token":
    case "token_expired":
      return "Your session has expired. Please log in again.";
    case "forbidden":
      return "This needs an admin account.";
    case "not_found":
      return context.notFound || "Not found: it may have been removed.";
    case "malformed_json":
    case "invalid_idempotency_key":
    case "payload_too_large":
      return `The server refused the request as malformed (${error.code}). Reload the page and try again.`;
    default:
      break;
  }
  if (error.status === 503) return `The service is temporarily unavailable. Try again ${wait}.`;
  if (error.status === 429) return `Too many requests. Try again ${wait}.`;
  if (error.status === 401) return "Your session has expired. Please log in again.";
  if (error.status >= 500) return "The server ran into a problem. Try again in a moment.";
  return `The request failed: ${error.message}`;
}

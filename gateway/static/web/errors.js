// Every error the API can answer, in words for the person in front of the page. Codes are
// stable (the spec says so); messages are the server's, for people, and may change, so the
// words here are chosen by code (`error.<code>` in the catalogs) and the server's message is
// only a last resort.

import { hasText, language, t } from "./i18n.js";
import { retryIn, localDateTime, duration } from "./time.js";

/** Catalog keys of the request fields' labels, for validation errors ("Stock: ..."). */
const FIELD_LABELS = {
  username: "field.username",
  password: "field.password",
  name: "field.name",
  stock: "field.stock",
  starts_at: "field.starts_at",
  ends_at: "field.ends_at",
  per_user_limit: "field.per_user_limit",
  add: "field.add",
  product_id: "field.product_id",
  product_name: "field.product_name",
  product_price: "field.product_price",
  currency: "field.currency",
  image_url: "field.image_url",
  description: "field.description",
  sale_price: "field.sale_price",
  payment_window_seconds: "field.payment_window_seconds",
  waitlist_size: "field.waitlist_size",
  waiting_room_opens_at: "field.waiting_room_opens_at",
  fair_window_seconds: "field.fair_window_seconds",
  pow_difficulty: "field.pow_difficulty",
  payment_method: "field.payment_method",
};

// The language of the API's messages. Readers of it get the server's words about a field
// (they carry the numbers: "at least 3 characters"); others get the catalog's words for the
// error's type where there are some.
const API_LANGUAGE = "en";

/** Why a ticket was rejected (its `reason`). */
export function rejectionText(reason, sale) {
  switch (reason) {
    case "sold_out":
      return t("rejection.sold_out");
    case "limit_reached":
      return sale ? t("rejection.limit_reached", { limit: sale.per_user_limit }) : t("rejection.limit_reached_any");
    case "sale_not_active":
      return t("rejection.sale_not_active");
    default:
      return t("rejection.unknown");
  }
}

/** "the sale opens Fri 27 Nov, 09:00 (in 4 min)" or "the sale has ended", from its times. */
export function notActiveText(sale) {
  if (!sale) return t("error.sale_not_active");
  const now = Date.now();
  if (Date.parse(sale.starts_at) > now) {
    const wait = (Date.parse(sale.starts_at) - now) / 1000;
    return t("sale.not_started", { time: localDateTime(sale.starts_at), duration: duration(wait) });
  }
  return t("sale.closed");
}

function fieldMessage(detail, field) {
  const type = `field_error.${detail.type}`;
  // pydantic prefixes custom rules with "Value error, ", and those rules often name their
  // field ("username must be ..."): noise next to the label.
  let message = String(detail.message ?? "").replace(/^Value error, /, "");
  const named = `${field.replace(/_/g, " ")} `;
  if (field && message.toLowerCase().startsWith(named)) message = message.slice(named.length);
  if (language() !== API_LANGUAGE && detail.type && hasText(type)) return t(type, { message });
  return message || t("field_error.invalid");
}

/** A field's label and the words about it, e.g. {field, label, message, text}. */
export function fieldErrors(error) {
  if (!Array.isArray(error.details)) return [];
  return error.details.map((detail) => {
    const field = String(detail.field ?? "");
    const label = FIELD_LABELS[field] ? t(FIELD_LABELS[field]) : field;
    const message = fieldMessage(detail, field);
    return { field, label, message, text: label ? t("error.field", { label, message }) : message };
  });
}

/**
 * One sentence (or a few) for an ApiError. `context` refines some: {sale} for purchase
 * errors, {notFound: catalog key} for what a 404 means where it happens.
 */
export function describe(error, context = {}) {
  const wait = retryIn(error.retryAfter);
  switch (error.code) {
    case "validation_error": {
      const fields = fieldErrors(error).map((f) => f.text);
      return fields.length ? t("error.validation_fields", { fields: fields.join("; ") }) : t("error.validation_error");
    }
    case "sale_not_active":
      return notActiveText(context.sale);
    case "not_found":
      return t(context.notFound || "error.not_found");
    default:
      break;
  }
  if (error.code && hasText(`error.${error.code}`)) return t(`error.${error.code}`, { wait, code: error.code });
  if (error.status === 503) return t("error.service_unavailable", { wait });
  if (error.status === 429) return t("error.too_many_requests", { wait });
  if (error.status === 401) return t("error.unauthorized");
  if (error.status >= 500) return t("error.internal_error");
  return t("error.request_failed", { message: error.message });
}

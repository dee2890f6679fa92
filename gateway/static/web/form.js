// Forms: their errors shown next to the fields at fault, and a busy state while they send.

import { ApiError } from "./api.js";
import { h, alertUser } from "./dom.js";
import { describe, fieldErrors } from "./errors.js";
import { setText, t } from "./i18n.js";

/** Remove the errors and messages a previous submission left. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    const ids = (input.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && !id.endsWith("-error"));
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
    else input.removeAttribute("aria-describedby");
  }
  for (const el of form.querySelectorAll(".form-error, .form-success")) {
    setText(el, "");
    el.hidden = true;
  }
}

/**
 * Show `error` on `form`: the sentence in its .form-error, each invalid field marked and
 * described, focus on the first of them (or left where it is). Screen readers hear it.
 * The words follow a language switch.
 */
export function showError(form, error, context = {}) {
  const summary = form.querySelector(".form-error");
  setText(summary, () => describe(error, context));
  summary.hidden = false;
  let first = null;
  for (const problem of fieldErrors(error)) {
    const input = problem.field && form.elements.namedItem(problem.field);
    if (!(input instanceof HTMLElement)) continue;
    const id = `${input.id}-error`;
    if (!document.getElementById(id)) {
      const message = h("p", { class: "field-error", id });
      setText(message, () => fieldErrors(error).find((f) => f.field === problem.field)?.message);
      input.closest(".field").append(message);
    }
    input.setAttribute("aria-invalid", "true");
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(id)) input.setAttribute("aria-describedby", [...described, id].join(" "));
    first ||= input;
  }
  alertUser(summary.textContent);
  first?.focus();
}

/** Show a success sentence (or a function giving it) in the form's .form-success. */
export function showSuccess(form, text) {
  const el = form.querySelector(".form-success");
  setText(el, text);
  el.hidden = false;
}

/**
 * `error` with its fields named as the form names them: `rename(field)` for each field at
 * fault (the API's "price.amount" may be the form's "sale_price", say).
 */
export function renameFields(error, rename) {
  if (!Array.isArray(error.details)) return error;
  const details = error.details.map((detail) => ({ ...detail, field: rename(String(detail.field ?? "")) }));
  return new ApiError(error.status, error.code, error.message, { details, retryAfter: error.retryAfter });
}

/**
 * Run `action` with the submit button busy (not disabled: that would drop its focus) and
 * labelled by the catalog's `labelKey` meanwhile; then its own label (data-i18n) again.
 */
export async function busy(form, labelKey, action) {
  const button = form.querySelector('button[type="submit"]');
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  setText(button, () => t(labelKey));
  try {
    await action();
  } finally {
    button.removeAttribute("aria-disabled");
    setText(button, t(button.dataset.i18n));
  }
}

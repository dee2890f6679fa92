// Forms: their errors shown next to the fields at fault, and a busy state while they send.

import { h, alertUser } from "./dom.js";
import { describe, fieldErrors } from "./errors.js";

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
    el.textContent = "";
    el.hidden = true;
  }
}

/**
 * Show `error` on `form`: the sentence in its .form-error, each invalid field marked and
 * described, focus on the first of them (or left where it is). Screen readers hear it.
 */
export function showError(form, error, context = {}) {
  const text = describe(error, context);
  const summary = form.querySelector(".form-error");
  summary.textContent = text;
  summary.hidden = false;
  let first = null;
  for (const problem of fieldErrors(error)) {
    const input = problem.field && form.elements.namedItem(problem.field);
    if (!(input instanceof HTMLElement)) continue;
    const id = `${input.id}-error`;
    if (!document.getElementById(id)) {
      input.closest(".field").append(h("p", { class: "field-error", id }, problem.message));
    }
    input.setAttribute("aria-invalid", "true");
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(id)) input.setAttribute("aria-describedby", [...described, id].join(" "));
    first ||= input;
  }
  alertUser(text);
  first?.focus();
}

/** Show a success sentence in the form's .form-success. */
export function showSuccess(form, text) {
  const el = form.querySelector(".form-success");
  el.textContent = text;
  el.hidden = false;
}

/** Run `action` with the submit button busy (not disabled: that would drop its focus). */
export async function busy(form, label, action) {
  const button = form.querySelector('button[type="submit"]');
  if (button.getAttribute("aria-disabled") === "true") return;
  const idle = button.textContent;
  button.setAttribute("aria-disabled", "true");
  button.textContent = label;
  try {
    await action();
  } finally {
    button.removeAttribute("aria-disabled");
    button.textContent = idle;
  }
}

// The signed-in user's access token, kept in sessionStorage: it survives a reload but not
// the tab, and no other tab or site can read it. The claims are decoded only to choose what
// to show (the admin view, the user's name); the server checks the signature and the role.

const TOKEN_KEY = "flashsale.token";

let current = null; // {token, claims}
let expiryTimer = 0;
const listeners = new Set();

/** The claims of a JWT without checking its signature; null if it is not one. */
export function decodeClaims(token) {
  try {
    const payload = token.split(".")[1];
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

function expired(claims) {
  return typeof claims.exp === "number" && claims.exp * 1000 <= Date.now();
}

/** Call `listener(session or null, reason)` on every log-in, log-out and expiry. */
export function onChange(listener) {
  listeners.add(listener);
}

function publish(reason) {
  for (const listener of listeners) listener(current, reason);
}

function armExpiry() {
  window.clearTimeout(expiryTimer);
  if (!current || typeof current.claims.exp !== "number") return;
  // Dropped a moment before the server would refuse it, so no request is sent with it.
  const ms = current.claims.exp * 1000 - Date.now() - 2000;
  // setTimeout overflows past ~24.8 days: such a token is re-checked by the next 401.
  if (ms < 2 ** 31 - 1) expiryTimer = window.setTimeout(() => end("expired"), Math.max(0, ms));
}

/** Restore this tab's session: "active", "expired" (a stale token was dropped) or "none". */
export function restore() {
  const token = window.sessionStorage.getItem(TOKEN_KEY);
  if (!token) return "none";
  const claims = decodeClaims(token);
  if (!claims || expired(claims)) {
    window.sessionStorage.removeItem(TOKEN_KEY);
    return "expired";
  }
  current = { token, claims };
  armExpiry();
  return "active";
}

export function start(token) {
  const claims = decodeClaims(token);
  if (!claims) throw new Error("the server sent a token that is not a JWT");
  window.sessionStorage.setItem(TOKEN_KEY, token);
  current = { token, claims };
  armExpiry();
  publish("login");
}

/** End the session: `reason` is "logout", "expired" (a 401 or the token's exp) or "gone". */
export function end(reason) {
  if (!current) return;
  window.clearTimeout(expiryTimer);
  window.sessionStorage.removeItem(TOKEN_KEY);
  current = null;
  publish(reason);
}

export const token = () => (current ? current.token : null);
export const claims = () => (current ? current.claims : null);
export const isAdmin = () => Boolean(current && current.claims.role === "admin");
export const userId = () => (current ? String(current.claims.sub) : null);

// Starts the page: restores the session, and shows one view at a time by the URL's hash
// (#/sales, #/orders, #/admin), so that Back and reloads keep the place.

import { h, byId, replace, announce, silence } from "./dom.js";
import * as session from "./session.js";
import * as tickets from "./tickets.js";
import * as authView from "./auth-view.js";
import * as salesView from "./sales-view.js";
import * as ordersView from "./orders-view.js";
import * as adminView from "./admin-view.js";

const VIEWS = {
  auth: { section: "view-auth", title: "Log in", show: () => {}, hide: () => {} },
  sales: { section: "view-sales", title: "Sales", show: () => salesView.show(), hide: () => salesView.hide() },
  orders: { section: "view-orders", title: "My orders", show: () => ordersView.show(), hide: () => {} },
  admin: { section: "view-admin", title: "Admin", show: () => adminView.show(), hide: () => adminView.hide() },
};

let current = null;

function wantedView() {
  if (!session.token()) return "auth";
  const name = window.location.hash.replace(/^#\/?/, "");
  if (name === "admin" && !session.isAdmin()) return "sales";
  return name in VIEWS && name !== "auth" ? name : current && current !== "auth" ? current : "sales";
}

function showView(name, { focus = true } = {}) {
  if (name === current) return;
  if (current) {
    VIEWS[current].hide();
    byId(VIEWS[current].section).hidden = true;
  }
  current = name;
  const view = VIEWS[name];
  const section = byId(view.section);
  section.hidden = false;
  document.title = `${view.title} · Flash sale`;
  for (const link of document.querySelectorAll(".site-nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Tell screen-reader and keyboard users where they are now: focus the view's heading.
  if (focus) section.querySelector("h1").focus();
  view.show();
}

function route({ focus = true } = {}) {
  const name = wantedView();
  // Hashes that are not views (the skip link's #main) leave the view as it is.
  const hash = window.location.hash;
  if (name !== "auth" && hash && !hash.startsWith("#/") && current) return;
  showView(name, { focus });
}

function renderAccount() {
  const claims = session.claims();
  const loggedIn = Boolean(claims);
  byId("site-nav").hidden = !loggedIn;
  byId("account").hidden = !loggedIn;
  byId("nav-admin").hidden = !session.isAdmin();
  replace(
    byId("account-who"),
    loggedIn ? claims.name : null,
    session.isAdmin() ? h("span", { class: "badge badge--role" }, "Admin") : null,
  );
}

const MESSAGES = {
  expired: ["Your session has expired. Please log in again.", "warning"],
  logout: ["You have logged out.", "info"],
};

session.onChange((active, reason) => {
  silence();
  renderAccount();
  if (active) {
    authView.show();
    tickets.restore();
    if (!window.location.hash.startsWith("#/")) window.history.replaceState(null, "", "#/sales");
    route();
    announce(`Logged in as ${active.claims.name}.`);
    return;
  }
  tickets.clear();
  salesView.reset();
  ordersView.reset();
  adminView.hide();
  // After an expiry the next log-in returns to the same view; after a log-out, to the sales.
  if (reason === "logout") window.history.replaceState(null, "", "#/sales");
  const [text, kind] = MESSAGES[reason] || ["", "info"];
  authView.show(text, kind);
  showView("auth");
  announce(text);
});

function boot() {
  authView.init();
  salesView.init();
  ordersView.init();
  adminView.init();
  byId("logout").addEventListener("click", () => session.end("logout"));
  window.addEventListener("hashchange", () => route());
  const restored = session.restore();
  renderAccount();
  if (restored === "active") tickets.restore();
  if (restored === "expired") authView.show(...MESSAGES.expired);
  byId("booting").hidden = true;
  route({ focus: false });
  document.body.dataset.ready = "true"; // for tests: the modules ran
}

boot();

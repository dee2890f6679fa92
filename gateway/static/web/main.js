// Starts the page: chooses the language, restores the session, and shows one view at a time
// by the URL's hash (#/sales, #/orders, #/admin), so that Back and reloads keep the place.

import { h, byId, replace, announce, silence } from "./dom.js";
import { language, languages, onLanguageChange, setLanguage, startI18n, t } from "./i18n.js";
import * as session from "./session.js";
import * as tickets from "./tickets.js";
import * as payments from "./payments.js";
import { reset as resetPaySteps } from "./pay-step.js";
import * as authView from "./auth-view.js";
import * as salesView from "./sales-view.js";
import * as ordersView from "./orders-view.js";
import * as adminView from "./admin-view.js";

// `title`: the catalog key of the view's name, for the document's title.
const VIEWS = {
  auth: { section: "view-auth", title: "auth.login_title", show: () => {}, hide: () => {} },
  sales: { section: "view-sales", title: "nav.sales", show: () => salesView.show(), hide: () => salesView.hide() },
  orders: { section: "view-orders", title: "nav.orders", show: () => ordersView.show(), hide: () => {} },
  admin: { section: "view-admin", title: "nav.admin", show: () => adminView.show(), hide: () => adminView.hide() },
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
  setTitle();
  for (const link of document.querySelectorAll(".site-nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Tell screen-reader and keyboard users where they are now: focus the view's heading.
  if (focus) section.querySelector("h1").focus();
  view.show();
}

function setTitle() {
  document.title = t("page.title", { view: t(VIEWS[current].title) });
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
    session.isAdmin() ? h("span", { class: "badge badge--role" }, t("account.admin")) : null,
  );
}

/** The language switcher in the header: one option per catalog, named in its language. */
function initLanguages() {
  const select = byId("language");
  replace(
    select,
    languages().map(({ code, name }) => h("option", { value: code, lang: code, selected: code === language() }, name)),
  );
  select.addEventListener("change", () => setLanguage(select.value));
  onLanguageChange((code) => {
    select.value = code;
    if (current) setTitle();
    renderAccount();
  });
}

// Why the log-in view is shown: the catalog key of the words, and their kind.
const MESSAGES = {
  expired: ["session.expired", "warning"],
  logout: ["session.logged_out", "info"],
};

session.onChange((active, reason) => {
  silence();
  renderAccount();
  if (active) {
    authView.show();
    tickets.restore();
    if (!window.location.hash.startsWith("#/")) window.history.replaceState(null, "", "#/sales");
    route();
    announce(t("session.logged_in", { name: active.claims.name }));
    return;
  }
  tickets.clear();
  payments.clear();
  resetPaySteps();
  salesView.reset();
  ordersView.reset();
  adminView.hide();
  // After an expiry the next log-in returns to the same view; after a log-out, to the sales.
  if (reason === "logout") window.history.replaceState(null, "", "#/sales");
  const [key, kind] = MESSAGES[reason] || [null, "info"];
  authView.show(key && (() => t(key)), kind);
  showView("auth");
  announce(key ? t(key) : "");
});

function boot() {
  startI18n();
  initLanguages();
  authView.init();
  salesView.init();
  ordersView.init();
  adminView.init();
  byId("logout").addEventListener("click", () => session.end("logout"));
  window.addEventListener("hashchange", () => route());
  const restored = session.restore();
  renderAccount();
  if (restored === "active") tickets.restore();
  if (restored === "expired") authView.show(() => t(MESSAGES.expired[0]), MESSAGES.expired[1]);
  byId("booting").hidden = true;
  route({ focus: false });
  document.body.dataset.ready = "true"; // for tests: the modules ran
}

boot();

// Logging in and creating an account. A new account is logged in at once.

import { login, register } from "./api.js";
import { byId, setNotice } from "./dom.js";
import { busy, clearErrors, showError } from "./form.js";
import * as session from "./session.js";

export function init() {
  const loginForm = byId("login-form");
  const registerForm = byId("register-form");

  loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(loginForm);
    busy(loginForm, "auth.logging_in", async () => {
      const { username, password } = values(loginForm);
      try {
        session.start(await login(username, password));
        loginForm.reset();
      } catch (error) {
        showError(loginForm, error, { action: "login" });
      }
    });
  });

  registerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(registerForm);
    busy(registerForm, "auth.registering", async () => {
      const { username, password } = values(registerForm);
      try {
        await register(username, password);
        session.start(await login(username, password));
        registerForm.reset();
      } catch (error) {
        showError(registerForm, error, { action: "register" });
      }
    });
  });
}

function values(form) {
  const data = new FormData(form);
  return { username: String(data.get("username") || ""), password: String(data.get("password") || "") };
}

/**
 * Show the view, with `message` above the forms (why the user is here), if any: a string, or
 * a function giving it in the active language.
 */
export function show(message = "", kind = "info") {
  setNotice(byId("auth-notice"), message, kind);
}

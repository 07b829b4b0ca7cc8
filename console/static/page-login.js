// Sign in with e-mail and password; the session lives in HttpOnly cookies.
import { errorBox, field, h, main, showErrors } from "./dom.js";

function next() {
  const target = new URLSearchParams(location.search).get("next") || "";
  // Only a path of the console itself: never an address elsewhere.
  return /^\/console(\/[\w\-/]*)?(\?[\w\-=&%.]*)?$/.test(target) ? target : "/console/live";
}

export async function render() {
  const errors = errorBox();
  const email = h("input", { type: "email", name: "email", id: "email", required: true,
    autocomplete: "username" });
  const password = h("input", { type: "password", name: "password", id: "password",
    required: true, autocomplete: "current-password" });
  const button = h("button", { type: "submit", id: "sign-in" }, "Sign in");
  const form = h("form", { class: "card narrow", id: "login-form" },
    field("E-mail", email), field("Password", password), errors, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const response = await fetch("/api/auth/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: email.value, password: password.value, use_cookies: true }),
      });
      if (response.ok) {
        location.assign(next());
        return;
      }
      const body = await response.json().catch(() => ({}));
      const detail = body.detail;
      showErrors(errors, Array.isArray(detail)
        ? detail.map((e) => `${e.field}: ${e.message}`)
        : [typeof detail === "string" ? detail : `Sign-in failed (${response.status}).`]);
    } finally {
      button.disabled = false;
    }
  });
  main(form);
  email.focus();
}

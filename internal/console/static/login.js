// The console's sign-in page: sends the admin token once, as JSON, to
// console/login, which answers a cookie (HttpOnly: this script never sees it),
// then loads the console. Messages are set as text, never as markup.
"use strict";
(() => {
  const form = document.getElementById("login-form");
  const input = document.getElementById("login-token");
  const error = document.getElementById("login-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      const res = await fetch("console/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ token: input.value }),
      });
      const env = await res.json();
      if (env.retcode !== "0") {
        error.textContent = "Refused (" + env.retcode + "): " + env.message;
        return;
      }
      try { localStorage.setItem("ccgw-console-signed-in", "1"); } catch (e) { /* storage off: no sign-out button */ }
      input.value = "";
      location.replace(location.pathname);
    } catch (e) {
      error.textContent = "The gateway did not answer: " + e.message;
    }
  });
})();

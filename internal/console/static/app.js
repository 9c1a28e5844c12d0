// The ccgw console. It reads the admin API every two seconds while visible,
// follows the event journal (GET ccgw/v1/stream, server-sent events) and acts
// through the admin API with JSON requests.
//
// Agent IDs, call data, event contents and every other value come from
// clients of the gateway: they are put in the page as text only
// (textContent, text nodes, dataset), never as markup. The page's policy
// (Content-Security-Policy: default-src 'self') runs no inline script.
"use strict";
(() => {
  const API = "ccgw/v1/";
  const REFRESH_MS = 2000;
  const MAX_EVENTS = 300;

  const $ = (id) => document.getElementById(id);

  // el makes an element: props sets className ("class"), textContent
  // ("text"), dataset ("data-*") or a property this file names; children are
  // nodes or strings (as text nodes).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("data-")) e.dataset[k.slice(5)] = v;
      else e[k] = v;
    }
    for (const c of children) e.append(c);
    return e;
  }

  // APIError is a failed answer: its retcode, message and HTTP status.
  class APIError extends Error {
    constructor(status, retcode, message) {
      super(retcode ? retcode + ": " + message : "HTTP " + status);
      this.status = status;
      this.retcode = retcode;
    }
  }

  // call sends one admin API request and returns its result, or throws an
  // APIError. A JSON content type: a form of another site cannot send one.
  async function call(method, path, body) {
    const init = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(API + path, init);
    let env = null;
    try {
      env = await res.json();
    } catch (e) {
      throw new APIError(res.status, "", "");
    }
    if (res.status === 401) {
      location.reload(); // the sign-in has expired: the page answers the sign-in form
    }
    if (!env || env.retcode !== "0") {
      throw new APIError(res.status, env && env.retcode, env && env.message);
    }
    return env.result;
  }

  function say(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.className = isError ? "error" : "";
  }

  // act runs an action started from the page, says how it went and refreshes.
  async function act(what, f) {
    try {
      const msg = await f();
      say(msg || what + ": done", false);
    } catch (e) {
      say(what + " refused: " + e.message, true);
    }
    refreshSoon(0);
  }

  const stateNames = { 0: "unknown", 1: "signed in", 2: "signed out", 3: "busy", 4: "idle", 5: "work", 7: "talking", 8: "rest", 9: "pre-rest" };
  const stateClass = { 3: "busy", 4: "idle", 5: "work", 7: "talking", 8: "rest", 9: "rest" };

  function ago(ms) {
    if (ms < 0) ms = 0;
    if (ms < 1000) return "now";
    const s = Math.round(ms / 1000);
    if (s < 120) return s + " s ago";
    const m = Math.round(s / 60);
    if (m < 120) return m + " min ago";
    return Math.round(m / 60) + " h ago";
  }

  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 120) return s + " s";
    const m = Math.round(s / 60);
    return m < 120 ? m + " min" : Math.round(m / 60) + " h";
  }

  function clockText(ms) {
    if (!ms) return "";
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z";
  }

  // render keeps tbody's rows in step with items, one row per key (kept in
  // the row's dataset under keyName): the row of an item still there is kept,
  // its button too, and only the texts of its cells change, so that a refresh
  // never loses a click in progress. cells(item) gives each cell's text, or
  // {text, cls, title}; action(item), if given, makes the last cell's button,
  // once per row. No item: one row saying emptyText.
  function render(tbody, keyName, items, key, cells, action, emptyText) {
    const old = new Map();
    for (const tr of [...tbody.rows]) {
      if (tr.dataset[keyName] !== undefined) old.set(tr.dataset[keyName], tr);
      else tr.remove();
    }
    items.forEach((item, i) => {
      const k = key(item);
      const texts = cells(item);
      let tr = old.get(k);
      old.delete(k);
      if (!tr) {
        tr = el("tr", { ["data-" + keyName]: k });
        for (let j = 0; j < texts.length; j++) tr.append(el("td"));
        if (action) tr.append(el("td", {}, action(item)));
      }
      texts.forEach((c, j) => {
        const v = typeof c === "string" ? { text: c } : c;
        const td = tr.cells[j];
        if (td.textContent !== v.text) td.textContent = v.text;
        if (td.className !== (v.cls || "")) td.className = v.cls || "";
        if (td.title !== (v.title || "")) td.title = v.title || "";
      });
      if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
    });
    for (const tr of old.values()) tr.remove();
    if (items.length === 0) {
      const columns = tbody.parentElement.tHead.rows[0].cells.length;
      tbody.append(el("tr", { class: "empty" }, el("td", { colSpan: columns, text: emptyText })));
    }
  }

  // button makes a small button that runs an action.
  function button(text, danger, onClick) {
    const b = el("button", { type: "button", class: danger ? "small danger" : "small", text });
    b.addEventListener("click", onClick);
    return b;
  }

  // unavailable notes that an endpoint is not served (404: not configured).
  function unavailable(noteId, table, e, text) {
    const note = $(noteId);
    if (e instanceof APIError && e.status === 404) {
      note.textContent = text;
      note.hidden = false;
      if (table) table.hidden = true;
      return true;
    }
    return false;
  }

  function shown(noteId, table) {
    $(noteId).hidden = true;
    if (table) table.hidden = false;
  }

  let clockNow = 0;

  async function loadClock() {
    const c = await call("GET", "clock");
    clockNow = c.now;
    $("clock-now").textContent = clockText(c.now);
    $("clock-kind").textContent = c.virtual ? "virtual" : "real";
    $("advance-form").hidden = !c.virtual;
    $("clock-note").hidden = c.virtual;
  }

  async function loadAgents() {
    const table = $("agents");
    let res;
    try {
      res = await call("GET", "agents?limit=500");
    } catch (e) {
      if (unavailable("agents-note", table, e, "The agents list is not served here (the Redis store keeps no list of its sessions).")) return;
      throw e;
    }
    shown("agents-note", table);
    render(table.tBodies[0], "agent", res.agents, (a) => a.agent, (a) => [
      a.agent + (a.simulated ? " (sim)" : ""),
      { text: stateNames[a.state] !== undefined ? stateNames[a.state] : String(a.state), cls: "state-" + (stateClass[a.state] || "other") },
      a.mode,
      { text: ago(res.now - a.lastSeen), title: clockText(a.lastSeen) },
      span(a.guidAgeMillis),
      String(a.queued),
      { text: String(a.findings), cls: a.findings > 0 ? "findings" : "" },
      a.callId,
    ], (a) => {
      const b = button("Force out", true, () => act("Force out " + a.agent, async () => {
        await call("DELETE", "agents/" + encodeURIComponent(a.agent));
        return a.agent + " signed out (cause supervisor)";
      }));
      b.dataset.agent = a.agent;
      b.title = "Sign " + a.agent + " out as a supervisor would";
      return b;
    }, "No agent is signed in.");
    $("agents-count").textContent = "(" + res.agents.length + (res.next ? "+, the first 500" : "") + ")";
  }

  async function loadQueues() {
    const qs = await call("GET", "queues");
    render($("queues").tBodies[0], "skill", qs, (q) => String(q.skillId), (q) => [
      String(q.skillId), String(q.waiting), q.longestWaitSeconds.toFixed(1) + " s", String(q.offered),
      String(q.answered), String(q.abandoned), String(q.noAnswer), String(q.transferred),
    ], null, "No queue yet.");
  }

  async function loadCalls() {
    const table = $("calls");
    let res;
    try {
      res = await call("GET", "calls?limit=500");
    } catch (e) {
      if (unavailable("calls-note", table, e, "The call simulator is off.")) return;
      throw e;
    }
    shown("calls-note", table);
    render(table.tBodies[0], "call", res.calls, (c) => c.callid, (c) => [
      c.callid, c.state, String(c.callskillid), c.caller, c.workno,
      { text: c.calldata.length > 80 ? c.calldata.slice(0, 80) + "…" : c.calldata, cls: "wrap" },
    ], (c) => {
      const b = button("Hang up", true, () => act("Hang up " + c.callid, async () => {
        await call("DELETE", "calls/" + encodeURIComponent(c.callid));
        return "the customer of " + c.callid + " hung up";
      }));
      b.dataset.call = c.callid;
      return b;
    }, "No live call.");
    $("calls-count").textContent = "(" + res.calls.length + (res.next ? "+" : "") + ")";
  }

  async function loadFaults() {
    const table = $("faults");
    let res;
    try {
      res = await call("GET", "faults");
    } catch (e) {
      if (unavailable("faults-note", table, e, "Faults are not served here.")) return;
      throw e;
    }
    shown("faults-note", table);
    render(table.tBodies[0], "fault", res.faults, (f) => f.id, (f) => {
      const on = f.start <= clockNow && (f.end === 0 || f.end > clockNow);
      return [
        f.id, f.kind + (on ? "" : " (not on)"),
        { text: f.agents.length ? f.agents.join(", ") : "all", cls: "wrap" },
        { text: f.interfaces.length ? f.interfaces.join(", ") : "all", cls: "wrap" },
        clockText(f.start), f.end ? clockText(f.end) : "until stopped", f.delay || "",
      ];
    }, (f) => {
      const b = button("Stop", true, () => act("Stop fault " + f.id, async () => {
        await call("DELETE", "faults/" + encodeURIComponent(f.id));
        return "fault " + f.id + " stopped";
      }));
      b.dataset.fault = f.id;
      return b;
    }, "No fault held.");
  }

  let detailAgent = "";

  async function loadClients() {
    const table = $("clients");
    let res;
    try {
      res = await call("GET", "clients?limit=200");
    } catch (e) {
      if (unavailable("clients-note", table, e, "The client report is off (--report-agents 0).")) return;
      throw e;
    }
    shown("clients-note", table);
    render(table.tBodies[0], "agent", res.clients, (c) => c.agent, (c) => {
      const codes = Object.keys(c.findings).sort().map((k) => k + " ×" + c.findings[k]);
      return [
        c.agent,
        { text: codes.length ? codes.join(", ") : "none", cls: codes.length ? "findings wrap" : "wrap" },
        String(c.requests), clockText(c.lastSeen),
      ];
    }, (c) => {
      const b = button("Findings", false, () => {
        detailAgent = c.agent;
        loadDetail().catch((e) => say("Findings of " + c.agent + ": " + e.message, true));
      });
      b.dataset.agent = c.agent;
      return b;
    }, "No client seen yet.");
    if (detailAgent) await loadDetail();
  }

  async function loadDetail() {
    const d = await call("GET", "clients/" + encodeURIComponent(detailAgent));
    $("client-detail").hidden = false;
    $("client-detail-title").textContent = "Findings of " + d.agent;
    const items = d.findings.map((f) => el("li", {},
      el("strong", { text: f.code + " ×" + f.count }), " ", f.explanation,
      el("br"), el("span", { class: "note", text: "The vendor's gateway: " + f.vendor }),
      el("pre", { text: JSON.stringify(f.evidence, null, 1) })));
    if (items.length === 0) items.push(el("li", { class: "note", text: "No finding." }));
    $("client-findings").replaceChildren(...items);
  }

  // refresh reads every view once; at most one runs at a time.
  let refreshing = false;
  let timer = 0;

  async function refresh() {
    if (refreshing) return refreshSoon(300);
    if (document.hidden) return;
    refreshing = true;
    try {
      const results = await Promise.allSettled([loadClock(), loadAgents(), loadQueues(), loadCalls(), loadFaults(), loadClients()]);
      const bad = results.find((r) => r.status === "rejected");
      if (bad && !$("status").textContent) say("Refresh failed: " + bad.reason.message, true);
    } finally {
      refreshing = false;
    }
  }

  function refreshSoon(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }

  // The event stream.
  let stream = null;

  function connect() {
    const state = $("stream-state");
    stream = new EventSource(API + "stream");
    stream.onopen = () => {
      state.textContent = "live";
      state.className = "tag live";
    };
    stream.onerror = () => {
      state.className = "tag down";
      if (stream.readyState === EventSource.CLOSED) {
        // Refused (too many streams, signed out): the browser gives up; try later.
        state.textContent = "unavailable, retrying";
        setTimeout(connect, 5000);
      } else {
        state.textContent = "reconnecting";
      }
    };
    stream.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      addEvent(m.lastEventId, ev);
      refreshSoon(300);
    };
  }

  function addEvent(id, ev) {
    const list = $("events");
    let content = ev.content === null || ev.content === undefined ? "" : JSON.stringify(ev.content);
    if (content.length > 300) content = content.slice(0, 300) + "…";
    const li = el("li", { "data-agent": String(ev.workNo), "data-id": String(id) },
      el("span", { text: clockText(ev.eventGenTime).slice(11) }),
      el("span", { class: "agent", text: String(ev.workNo) }),
      el("span", { class: "type", text: String(ev.eventType) }),
      el("span", { class: "content", text: content }));
    li.hidden = !matches(li);
    list.prepend(li);
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  }

  function matches(li) {
    const f = $("events-filter").value.trim();
    return f === "" || li.dataset.agent === f;
  }

  function wire() {
    $("inject-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { skillId: Number($("inject-skill").value), talkSeconds: Number($("inject-talk").value) || 0 };
      if ($("inject-caller").value.trim()) body.caller = $("inject-caller").value.trim();
      if ($("inject-data").value) body.callData = $("inject-data").value;
      act("Inject call", async () => "call " + (await call("POST", "calls", body)).callid + " injected into skill " + body.skillId);
    });
    $("advance-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const seconds = Number($("advance-seconds").value);
      act("Advance the clock", async () => "clock at " + clockText((await call("POST", "clock/advance", { seconds })).now));
    });
    $("fault-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const list = (v) => v.split(",").map((x) => x.trim()).filter((x) => x !== "");
      const body = { kind: $("fault-kind").value };
      const agents = list($("fault-agents").value);
      const ifaces = list($("fault-interfaces").value);
      if (agents.length) body.agents = agents;
      if (ifaces.length) body.interfaces = ifaces;
      if ($("fault-duration").value.trim()) body.duration = $("fault-duration").value.trim();
      if ($("fault-delay").value.trim()) body.delay = $("fault-delay").value.trim();
      act("Start fault", async () => "fault " + (await call("POST", "faults", body)).id + " (" + body.kind + ") held");
    });
    $("events-filter").addEventListener("input", () => {
      for (const li of $("events").children) li.hidden = !matches(li);
    });
    $("events-clear").addEventListener("click", () => $("events").replaceChildren());
    let signedIn = false;
    try { signedIn = localStorage.getItem("ccgw-console-signed-in") === "1"; } catch (e) { /* storage off */ }
    $("sign-out").hidden = !signedIn;
    $("sign-out").addEventListener("click", async () => {
      try { localStorage.removeItem("ccgw-console-signed-in"); } catch (e) { /* storage off */ }
      await fetch("console/logout", { method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin", body: "{}" });
      location.reload();
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshSoon(0); });
  }

  wire();
  connect();
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
})();

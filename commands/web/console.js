// The operator console: sign in with an API token (kept for this tab only), find a customer
// by name, phone or address, read their timeline, issue the common commands, watch the SLA
// board and read an engineer's ledger. Every action is a call to the same HTTP API.
"use strict";

const $ = (id) => document.getElementById(id);

function show(tab) {
  document.querySelectorAll(".tab").forEach((s) => s.classList.toggle("hidden", s.id !== `tab-${tab}`));
  document.querySelectorAll("nav.tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
  if (tab === "sla") loadSla();
}

async function signIn(token) {
  Page.token = token;
  try {
    const who = await api("GET", "/me");
    sessionStorage.setItem("serviceorder.console", token);
    $("who").textContent = `${t("signed_in_as")} ${who.principal}`;
    $("login").classList.add("hidden");
    $("app").classList.remove("hidden");
    $("signout").classList.remove("hidden");
    show("customers");
  } catch (e) {
    sessionStorage.removeItem("serviceorder.console");
    $("login-error").textContent = e.message;
  }
}

async function search(event) {
  event.preventDefault();
  const found = await api("GET", `/customers?q=${encodeURIComponent($("q").value)}`);
  $("results").replaceChildren(...found.customers.map((c) => {
    const row = el("tr", { class: "customer-row" }, el("td", {}, c.customer_id), el("td", {}, c.name || ""),
      el("td", {}, c.phone || ""), el("td", {}, c.address || ""));
    row.addEventListener("click", () => openCustomer(c.customer_id, c.name));
    return row;
  }));
}

async function openCustomer(customerId, name) {
  $("customer").classList.remove("hidden");
  $("customer").dataset.customer = customerId;
  $("customer-title").textContent = `${customerId} ${name || ""}`;
  $("link").value = "";
  const timeline = await api("GET", `/customers/${encodeURIComponent(customerId)}/timeline?limit=500`);
  $("customer-timeline").replaceChildren(...timeline.entries.slice().reverse().map((e) =>
    el("li", {}, el("span", { class: "muted" }, when(e.occurred_at)), " ", e.summary,
      el("span", { class: "muted" }, ` · ${e.category} ${e.subject_id}`))));
}

function form(id, send) {
  $(`${id}-form`).addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = $(`${id}-result`);
    const values = Object.fromEntries(new FormData(event.target).entries());
    try {
      const result = await send(values);
      out.className = "result";
      out.textContent = `${t("done")}: version ${result.version}`;
    } catch (e) {
      out.className = "result error";
      out.textContent = e.message;
    }
  });
}

const iso = (local) => new Date(local).toISOString();

function wire() {
  form("step", (v) => api("POST", `/orders/${v.order}/delivery-steps`, {
    step: v.step, ...(v.driver ? { driver: v.driver } : {}),
    ...(v.lat && v.lng ? { position: { lat: Number(v.lat), lng: Number(v.lng) } } : {}) }));
  form("dispatch", (v) => api("POST", `/jobs/${v.job}/dispatch`, { engineer: v.engineer }));
  form("reschedule", (v) => api("POST", `/jobs/${v.job}/appointment/reschedule`, {
    start: iso(v.start), end: iso(v.end), initiator: v.initiator, reason: v.reason }));
  form("vote", (v) => api("POST", `/returns/${v.return}/votes/${v.department}`, {
    approve: v.approve === "true", ...(v.reason ? { reason: v.reason } : {}) }));
  form("propose", (v) => api("POST", `/claims/${v.claim}/proposal`, {
    amount: v.amount, facts: v.facts ? v.facts.split(",").map((f) => f.trim()) : [] }));
  $("step-choice").replaceChildren(...CONTRACT.deliverySteps.map((step) => el("option", {}, step)));
  $("search-form").addEventListener("submit", search);
  $("link-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const link = await api("POST", `/customers/${encodeURIComponent($("customer").dataset.customer)}/tracking-link`);
    $("link").value = new URL(link.url, location.href).href;
  });
  $("ledger-form").addEventListener("submit", loadLedger);
  document.querySelectorAll("nav.tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
  $("login-form").addEventListener("submit", (event) => { event.preventDefault(); signIn($("token").value.trim()); });
  $("signout").addEventListener("click", () => { sessionStorage.removeItem("serviceorder.console"); location.reload(); });
  $("lang").addEventListener("click", () => setLang(Page.lang === "zh" ? "en" : "zh"));
}

async function loadSla() {
  const board = await api("GET", "/slas");
  const head = el("tr", {}, ["tier", "status", "time_left", "due"].map((k) => el("th", {}, t(k))));
  $("sla").replaceChildren(head, ...board.items.map((i) => el("tr", { class: "sla-row" },
    el("td", {}, i.tier), el("td", {}, el("span", {
      class: i.breached ? "badge bad" : i.warned ? "badge warn" : "badge ok" },
      i.breached ? t("breached") : i.warned ? t("warning") : i.status)),
    el("td", {}, `${Math.round(i.time_left_seconds / 60)} min`), el("td", {}, when(i.due_at)))));
}

async function loadLedger(event) {
  event.preventDefault();
  const ledger = await api("GET", `/engineers/${encodeURIComponent($("ledger-engineer").value)}/ledger`);
  $("ledger-totals").textContent = `${t("balance")}: ${ledger.totals.balance} ${ledger.currency}`;
  $("ledger").replaceChildren(...ledger.lines.map((l) => el("tr", {}, el("td", {}, l.line_no), el("td", {}, l.kind),
    el("td", {}, l.amount), el("td", {}, l.status), el("td", {}, l.statement_period || ""))));
}

setLang(Page.lang);
wire();
const kept = sessionStorage.getItem("serviceorder.console");
if (kept) signIn(kept);

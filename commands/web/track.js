// The customer's tracking page: reached by a link whose fragment holds a customer token
// (#t=...), which never leaves the browser except as a bearer token to this API. It polls
// the read models every few seconds, so progress shows without a reload.
"use strict";

const STEPS = CONTRACT.deliverySteps;  // served from contract/names.py
const POLL_MS = 3000;

function body(id) { return document.querySelector(`#${id} .body`); }

function fill(id, nodes) {
  const target = body(id);
  target.replaceChildren(...(nodes.length ? nodes : [el("p", { class: "muted" }, t("none"))]));
}

async function optional(path) {
  try { return await api("GET", path); } catch (e) { if (e.status === 404) return null; throw e; }
}

function orderCard(o) {
  const reached = STEPS.indexOf(o.current_step);
  return el("div", { class: "order", "data-order": o.order_id },
    el("p", {}, el("strong", {}, `${t("order")} ${o.order_id.slice(0, 8)}`), " ",
       el("span", { class: o.status === "delivered" ? "badge ok" : "badge" }, t(o.current_step || "none"))),
    el("ol", { class: "steps" }, STEPS.map((s, i) => el("li", {
      class: i <= reached ? (i === reached ? "done current" : "done") : "", "data-step": s }, t(s)))),
    o.driver ? el("p", { class: "muted" }, `${t("driver")}: ${o.driver}`) : null,
    o.position ? el("p", { class: "muted" }, `${t("position")}: ${o.position.lat.toFixed(4)}, ${o.position.lng.toFixed(4)}`) : null);
}

function jobCard(j) {
  const window = j.window ? `${when(j.window.start)} – ${when(j.window.end)}` : "";
  return el("div", { class: "job" },
    el("p", {}, el("strong", {}, `${j.kind} · ${j.product?.sku || ""}`), " ", el("span", { class: "badge" }, j.status)),
    window ? el("p", { class: "muted" }, `${t("appointment")}: ${window}`) : null,
    j.engineer ? el("p", { class: "muted" }, `${t("engineer")}: ${j.engineer}`) : null);
}

function returnCard(r) {
  return el("div", { class: "return" },
    el("p", {}, el("strong", {}, `${r.resolution} · ${r.return_id.slice(0, 8)}`), " ", el("span", { class: "badge" }, r.status)),
    r.pending?.length ? el("p", { class: "muted" }, `${t("waiting_for")}: ${r.pending.map(t).join(", ")}`) : null);
}

function claimCard(c) {
  const overdue = c.proposal_overdue ? "badge bad" : "badge";
  return el("div", { class: "claim" },
    el("p", {}, el("strong", {}, c.category ? `${c.category}` : `${c.claim_id.slice(0, 8)}`), " ", el("span", { class: "badge" }, c.status)),
    c.proposal_due_at ? el("p", { class: "muted" }, `${t("due")}: `, el("span", { class: overdue }, when(c.proposal_due_at))) : null,
    c.amount ? el("p", { class: "muted" }, `${t("amount")}: ${c.amount}`) : null);
}

async function refresh(customer) {
  const timeline = await api("GET", `/customers/${encodeURIComponent(customer)}/timeline?limit=500`);
  const ids = (category) => [...new Set(timeline.entries.filter((e) => e.category === category).map((e) => e.subject_id))];
  const [orders, jobs, returns, complaints, claims] = await Promise.all([
    Promise.all(ids("orders").map((id) => optional(`/orders/${id}/tracking`))),
    Promise.all(ids("jobs").map((id) => optional(`/jobs/${id}`))),
    Promise.all(ids("returns").map((id) => optional(`/returns/${id}`))),
    Promise.all(ids("complaints").map((id) => optional(`/complaints/${id}`))),
    Promise.all(ids("claims").map((id) => optional(`/claims/${id}`))),
  ]);
  fill("orders", orders.filter(Boolean).map(orderCard));
  fill("jobs", jobs.filter(Boolean).map(jobCard));
  fill("returns", returns.filter(Boolean).map(returnCard));
  fill("claims", [...complaints.filter(Boolean).map(claimCard), ...claims.filter(Boolean).map(claimCard)]);
  fill("timeline", [el("ul", { class: "timeline" }, timeline.entries.slice().reverse().map((e) =>
    el("li", {}, el("span", { class: "muted" }, when(e.occurred_at)), " ", e.summary)))]);
  document.getElementById("status").textContent = `${t("updated")} ${when(new Date().toISOString())}`;
}

async function start() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("t");
  if (fromLink) sessionStorage.setItem("serviceorder.track", fromLink);
  Page.token = fromLink || sessionStorage.getItem("serviceorder.track");
  setLang(Page.lang);
  let who;
  try { who = await api("GET", "/me"); } catch (e) {
    document.getElementById("status").textContent = t("no_link");
    document.getElementById("status").className = "error";
    return;
  }
  const loop = async () => {
    clearTimeout(Page.timer);
    try { await refresh(who.principal); } catch (e) { document.getElementById("status").textContent = e.message; }
    clearTimeout(Page.timer);
    Page.timer = setTimeout(loop, POLL_MS);
  };
  document.getElementById("lang").addEventListener("click", () => { setLang(Page.lang === "zh" ? "en" : "zh"); loop(); });
  loop();
}

start();

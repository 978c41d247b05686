// The customer's tracking page: reached by a link whose fragment holds a customer token
// (#t=...), which never leaves the browser except as a bearer token to this API. It polls
// the read models every few seconds, so progress shows without a reload; the newest things
// come first, and "Older" pages back through any length of history.
"use strict";

const STEPS = CONTRACT.deliverySteps;  // served from contract/names.py
const POLL_MS = 3000;
const PAGE = 50;

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

// What the page holds: every timeline entry and subject read so far (the newest page is read
// again on each poll, older pages once, on request), so any length of history pages back.
const Shown = { entries: new Map(), subjects: new Map(), timelineDone: false, subjectsDone: false };

function keep(map, items, key) { items.forEach((item) => map.set(item[key], item)); }

async function older(customer, kind) {
  const enc = encodeURIComponent(customer);
  if (kind === "timeline") {
    const before = Math.min(...[...Shown.entries.values()].map((e) => e.position));
    const page = await api("GET", `/customers/${enc}/timeline?order=newest_first&limit=${PAGE}&before=${before}`);
    keep(Shown.entries, page.entries, "event_id");
    Shown.timelineDone = page.next_before === null;
  } else {
    const before = Math.min(...[...Shown.subjects.values()].map((s) => s.last_position));
    const page = await api("GET", `/customers/${enc}/subjects?limit=${PAGE}&before=${before}`);
    keep(Shown.subjects, page.subjects, "subject_id");
    Shown.subjectsDone = page.next_before === null;
  }
  await refresh(customer, false);
}

const DETAIL = { orders: (id) => `/orders/${id}/tracking?history_limit=1`, jobs: (id) => `/jobs/${id}`,
  returns: (id) => `/returns/${id}`, complaints: (id) => `/complaints/${id}`, claims: (id) => `/claims/${id}` };

async function refresh(customer, poll = true) {
  const enc = encodeURIComponent(customer);
  if (poll) {
    const [subjects, newest] = await Promise.all([api("GET", `/customers/${enc}/subjects?limit=${PAGE}`),
      api("GET", `/customers/${enc}/timeline?order=newest_first&limit=${PAGE}`)]);
    if (!Shown.entries.size) Shown.timelineDone = newest.next_before === null;
    if (!Shown.subjects.size) Shown.subjectsDone = subjects.next_before === null;
    keep(Shown.entries, newest.entries, "event_id");
    keep(Shown.subjects, subjects.subjects, "subject_id");
  }
  const subjects = [...Shown.subjects.values()].sort((a, b) => b.last_position - a.last_position);
  const details = await Promise.all(subjects.map((s) => optional(DETAIL[s.category](s.subject_id))));
  const of = (category) => details.filter((d, i) => d && subjects[i].category === category);
  fill("orders", of("orders").map(orderCard));
  fill("jobs", of("jobs").map(jobCard));
  fill("returns", of("returns").map(returnCard));
  fill("claims", [...of("complaints"), ...of("claims")].map(claimCard));
  const entries = [...Shown.entries.values()].sort((a, b) => b.position - a.position);
  fill("timeline", [el("ul", { class: "timeline" }, entries.map((e) =>
    el("li", { "data-position": e.position }, el("span", { class: "muted" }, when(e.occurred_at)), " ", e.summary)))]);
  document.getElementById("older-timeline").classList.toggle("hidden", Shown.timelineDone);
  document.getElementById("older-subjects").classList.toggle("hidden", Shown.subjectsDone);
  document.getElementById("status").textContent = `${t("updated")} ${when(new Date().toISOString())}`;
}

// The customer's choice is recorded too (LanguagePreferred), so that what we write to them
// later reads in it. Only a registered customer has a file to record it on: otherwise the
// choice stays on this device, and the page says nothing of it.
async function recordLanguage(enc) {
  const status = document.getElementById("language-status");
  try {
    await api("PUT", `/customers/${enc}/language`, { language: Page.lang });
    status.textContent = t("language_recorded");
    status.className = "muted";
  } catch (e) {
    status.textContent = e.status === 404 ? "" : e.message;
    status.className = e.status === 404 ? "muted" : "error";
  }
}

async function start() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("t");
  if (fromLink) sessionStorage.setItem("serviceorder.track", fromLink);
  Page.token = fromLink || sessionStorage.getItem("serviceorder.track");
  setLang(Page.lang, false);
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
  const enc = encodeURIComponent(who.principal);
  // A link opened with no language chosen on this device reads in the customer's recorded one.
  if (!Page.chosen) {
    const file = await optional(`/customers/${enc}/file?history_limit=1`).catch(() => null);
    if (file?.language && file.language !== Page.lang) setLang(file.language, false);
  }
  document.getElementById("lang").addEventListener("click", async () => {
    setLang(Page.lang === "zh" ? "en" : "zh");
    // The summaries shown were written in the old language: read them again in the new one.
    Shown.entries.clear();
    Shown.subjects.clear();
    loop();
    await recordLanguage(enc);
  });
  for (const kind of ["timeline", "subjects"]) {
    document.getElementById(`older-${kind}`).addEventListener("click", () => older(who.principal, kind)
      .catch((e) => { document.getElementById("status").textContent = e.message; }));
  }
  loop();
}

start();

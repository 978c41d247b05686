// The operator console: sign in with an API token (kept for this tab only); each role sees
// its own boards, lists read from the views with the action at hand on every row.
import { approverRoles, returnsBoard } from "./approvals.js";
import { claimsBoard, complaintsBoard } from "./complaints.js";
import { reopenCustomer, wireDesk } from "./desk.js";
import { dayAgendas, deliveries, jobQueue } from "./dispatch.js";
import { balancesBoard, statementsBoard } from "./finance.js";
import { callBacksBoard, slaBoard } from "./levels.js";

const $ = (id) => document.getElementById(id);

// A tab shows to principals granted any of ``needs``; ``boards`` build its lists.
const TABS = [
  { id: "dispatch", needs: ["dispatcher"], boards: () => [jobQueue(), dayAgendas()] },
  { id: "deliveries", needs: ["dispatcher"], boards: () => [deliveries()] },
  { id: "returns", needs: approverRoles, boards: (grants) => [returnsBoard(grants)] },
  { id: "complaints", needs: ["complaints"], boards: () => [claimsBoard(), complaintsBoard()] },
  { id: "sla", needs: ["dispatcher", "hotline", "complaints"], boards: () => [slaBoard()] },
  { id: "hotline", needs: ["hotline"], boards: () => [callBacksBoard()] },
  { id: "finance", needs: ["finance"], boards: () => [statementsBoard(), balancesBoard()] },
  { id: "customers", needs: ["viewer"] },
];
const shown = new Map();  // tab id -> its boards

function show(tab) {
  document.querySelectorAll(".tab").forEach((s) => s.classList.toggle("hidden", s.id !== `tab-${tab}`));
  document.querySelectorAll("nav.tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
  (shown.get(tab) || []).forEach((board) => board.load());
}

function build(grants) {
  const nav = $("tabs");
  nav.replaceChildren();
  for (const tab of TABS.filter((tab) => tab.needs.some((role) => grants.includes(role)))) {
    const button = el("button", { type: "button", "data-tab": tab.id, "data-i18n": `tab_${tab.id}` }, t(`tab_${tab.id}`));
    button.addEventListener("click", () => show(tab.id));
    nav.append(button);
    if (!tab.boards) continue;
    const boards = tab.boards(grants);
    shown.set(tab.id, boards);
    $("app").append(el("section", { class: "card tab hidden", id: `tab-${tab.id}` }, boards.map((b) => b.element)));
  }
  const first = nav.querySelector("button");
  if (first) show(first.dataset.tab);
  else $("no-boards").classList.remove("hidden");
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
    build(who.grants);
  } catch (e) {
    sessionStorage.removeItem("serviceorder.console");
    $("login-error").textContent = e.message;
  }
}

setLang(Page.lang, false);
wireDesk();
$("login-form").addEventListener("submit", (event) => { event.preventDefault(); signIn($("token").value.trim()); });
$("signout").addEventListener("click", () => { sessionStorage.removeItem("serviceorder.console"); location.reload(); });
$("lang").addEventListener("click", () => {
  setLang(Page.lang === "zh" ? "en" : "zh");
  const active = document.querySelector("nav.tabs button.active");
  if (active) show(active.dataset.tab);  // rows and their buttons are drawn in the new language
  reopenCustomer();  // the file's history is written by the server: read it again in the new language
});
const kept = sessionStorage.getItem("serviceorder.console");
if (kept) signIn(kept);

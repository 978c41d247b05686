// Service levels: the SLA board (warnings and breaches, time left counting down; pause,
// resume or complete an item) and the hotline's call-backs due (reached or not).
import { Board, choice, countdown } from "./board.js";

export function slaBoard() {
  return new Board({
    id: "sla", title: "sla", path: "/slas", key: (s) => s.sla_id, items: (p) => p.items,
    filters: () => [choice("state", "status", ["open", "warned", "breached", "running", "paused"], "open")],
    columns: ["subject", "customer", "tier", "status", "time_left", "due"],
    cells: (s) => [`${t(s.subject_kind)} ${s.subject_id.slice(0, 8)}`, s.customer_id, t(s.tier),
      el("span", { class: s.breached ? "badge bad" : s.warned ? "badge warn" : "badge ok" },
        s.breached ? t("breached") : s.warned ? t("warning") : t(s.status)),
      s.status === "running" ? countdown(s.due_at) : `${Math.round(s.time_left_seconds / 60)} min`,
      when(s.due_at)],
    actions: (s, board) => {
      const post = (verb, body) => (h) => api("POST", `/slas/${s.sla_id}/${verb}`, body, h);
      if (s.status === "paused") return [board.action(s, "resume", post("resume"), "primary")];
      const reason = el("input", { name: "reason", size: 10, placeholder: t("reason") });
      return [board.action(s, "complete", post("complete"), "primary"), reason,
        board.action(s, "pause", (h) => post("pause", { reason: reason.value.trim() })(h))];
    },
  });
}

export function callBacksBoard() {
  return new Board({
    id: "callbacks", title: "call_backs", path: "/hotline/call-backs", key: (c) => c.call_id,
    items: (p) => p.call_backs,
    columns: ["phone", "customer", "missed_at", "due"],
    cells: (c) => [el("a", { href: `tel:${c.phone}` }, c.phone), c.customer_id || "", when(c.missed_at),
      countdown(c.due_at)],
    actions: (c, board) => {
      const call = (reached) => (h) => api("POST", `/calls/${c.call_id}/call-back`, { reached }, h);
      return [board.action(c, "reached", call(true), "primary"), board.action(c, "not_reached", call(false))];
    },
  });
}

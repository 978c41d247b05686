// The dispatcher's boards: jobs waiting for an engineer (dispatch, or decline on an
// engineer's behalf and dispatch again) and every engineer's agenda for a day.
import { Board, choice, field } from "./board.js";

function jobCells(j) {
  return [
    el("span", { title: j.job_id }, j.job_id.slice(0, 8)), t(j.kind), j.customer_id,
    j.site_address, j.product_sku,
    el("span", { class: j.status === "declined" ? "badge warn" : "badge" }, t(j.status)),
    j.engineer || "", j.window_start ? `${when(j.window_start)} – ${when(j.window_end)}` : "",
    j.missed_windows ? el("span", { class: "badge bad" }, `${j.missed_windows} ${t("missed")}`) : "",
  ];
}

export function jobQueue() {
  return new Board({
    id: "jobs", title: "jobs_board", path: "/jobs", key: (j) => j.job_id, items: (p) => p.jobs,
    filters: () => [choice("status", "status", ["waiting", "dispatched", "accepted", "completed"], "waiting"),
      field("engineer", "engineer", { size: 10 })],
    columns: ["job", "kind", "customer", "address", "product", "status", "engineer", "appointment", "missed_windows"],
    cells: jobCells,
    actions: (j, board) => {
      if (j.status === "open" || j.status === "declined") {
        const engineer = el("input", { name: "engineer", size: 8, placeholder: t("engineer") });
        return [engineer, board.action(j, "dispatch", (h) => {
          if (!engineer.value.trim()) throw new ApiError(422, { detail: t("engineer_needed") });
          return api("POST", `/jobs/${j.job_id}/dispatch`, { engineer: engineer.value.trim() }, h);
        }, "primary")];
      }
      if (j.status === "dispatched" || j.status === "accepted") {
        const reason = el("input", { name: "reason", size: 12, placeholder: t("reason") });
        return [reason, board.action(j, "decline", (h) => {
          if (!reason.value.trim()) throw new ApiError(422, { detail: t("reason_needed") });
          return api("POST", `/jobs/${j.job_id}/decline`, { engineer: j.engineer, reason: reason.value.trim() }, h);
        })];
      }
      return [];
    },
  });
}

export function dayAgendas() {
  const today = new Date().toISOString().slice(0, 10);
  return new Board({
    id: "agendas", title: "agendas", path: "/engineers/agendas", key: (j) => j.job_id, items: (p) => p.jobs,
    filters: () => [field("day", "day", { type: "date", value: today, required: true }),
      field("engineer", "engineer", { size: 10 })],
    columns: ["engineer", "appointment", "job", "kind", "customer", "address", "status"],
    cells: (j) => [el("strong", {}, j.engineer), `${when(j.window_start)} – ${when(j.window_end)}`,
      el("span", { title: j.job_id }, j.job_id.slice(0, 8)), t(j.kind), j.customer_id, j.site_address,
      el("span", { class: "badge" }, t(j.status))],
  });
}

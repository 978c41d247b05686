// The dispatcher's boards: jobs waiting for an engineer (dispatch, or decline on an
// engineer's behalf and dispatch again), every engineer's agenda for a day (reschedule,
// self-installation, back to the queue), one-click reassignment of a job whose appointment has
// not begun, and the orders on their way (the next delivery step, or an incident's resolution).
import { Board, Clock, choice, field } from "./board.js";

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
      if (begun(j)) return [windowBegun()];
      if (j.status === "dispatched" || j.status === "accepted") {
        const reason = el("input", { name: "reason", size: 12, placeholder: t("reason") });
        return [reason, board.action(j, "decline", (h) => {
          if (!reason.value.trim()) throw new ApiError(422, { detail: t("reason_needed") });
          return api("POST", `/jobs/${j.job_id}/decline`, { engineer: j.engineer, reason: reason.value.trim() }, h);
        }), reassign(j, board, reason)];
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
    actions: agendaActions,
  });
}

// Gives a job held by one engineer to another in one click: declined on the first one's behalf
// (with the reason), then dispatched again, each with If-Match. The domain lets a job be handed
// back until its appointment window begins (the appointment stays for the next engineer); after
// that it is refused in words (kept or missed, never moved silently).
function reassign(j, board, reason) {
  const engineer = el("input", { name: "new_engineer", size: 8, placeholder: t("new_engineer") });
  return el("span", { class: "action-group" }, engineer, board.action(j, "reassign", async (h) => {
    const to = engineer.value.trim();
    if (!to) throw new ApiError(422, { detail: t("engineer_needed") });
    if (to === j.engineer) throw new ApiError(422, { detail: t("same_engineer") });
    if (!reason.value.trim()) throw new ApiError(422, { detail: t("reason_needed") });
    const declined = await api("POST", `/jobs/${j.job_id}/decline`, { engineer: j.engineer,
      reason: reason.value.trim() }, h);
    try {
      return await api("POST", `/jobs/${j.job_id}/dispatch`, { engineer: to, note: reason.value.trim() },
        { "If-Match": `"${declined.version}"` });
    } catch (e) {
      // The decline stands: say that the job waits in the queue, and why it was not given on.
      throw new ApiError(e.status, { detail: `${t("back_in_queue")} ${e.message}` });
    }
  }, "primary"));
}

// What a dispatcher does with an engineer's appointment, each a command sent with If-Match:
// move it (before its window starts, with the customer told: never a silent no-show), give it
// to another engineer or back to the queue with its appointment (the engineer is ill at 8:00),
// or, for an installation no engineer can reach, let the customer install it themselves (the fee
// is refunded). One reason serves each.
function agendaActions(j, board) {
  if (j.status !== "dispatched" && j.status !== "accepted") return [];
  if (begun(j)) {
    if (j.kind !== "installation") return [windowBegun()];
    const reason = el("input", { name: "reason", size: 10, placeholder: t("reason") });
    return [windowBegun(), reason, selfInstall(j, board, reason)];
  }
  const input = (name, attrs = {}) => el("input", { name, ...attrs });
  const reason = input("reason", { size: 10, placeholder: t("reason") });
  const why = () => {
    if (!reason.value.trim()) throw new ApiError(422, { detail: t("reason_needed") });
    return reason.value.trim();
  };
  const start = input("start", { type: "datetime-local" });
  const end = input("end", { type: "datetime-local" });
  return [
    reason,
    el("span", { class: "action-group" }, start, end, board.action(j, "reschedule", (h) => {
      if (!start.value || !end.value || !reason.value.trim()) throw new ApiError(422, { detail: t("window_needed") });
      return api("POST", `/jobs/${j.job_id}/appointment/reschedule`, { start: new Date(start.value).toISOString(),
        end: new Date(end.value).toISOString(), initiator: "operator", reason: why() }, h);
    })),
    reassign(j, board, reason),
    board.action(j, "back_to_queue", (h) =>
      api("POST", `/jobs/${j.job_id}/decline`, { engineer: j.engineer, reason: why() }, h)),
    j.kind === "installation" ? selfInstall(j, board, reason) : null,
  ];
}

// Once an accepted job's window has begun (by the service's clock, which each list's ``now``
// gives: Clock), it is kept or missed: the domain refuses to move it or hand it back (409), so
// the row says so instead of offering buttons that cannot work.
function begun(j) {
  return j.status === "accepted" && !!j.window_start && Date.parse(j.window_start) <= Clock.now();
}

function windowBegun() {
  return el("span", { class: "muted window-begun", "data-i18n": "window_begun" }, t("window_begun"));
}

function selfInstall(j, board, reason) {
  return board.action(j, "self_install", (h) => {
    if (!reason.value.trim()) throw new ApiError(422, { detail: t("reason_needed") });
    return api("POST", `/jobs/${j.job_id}/self-installation`, { reason: reason.value.trim() }, h);
  });
}

const STEPS = CONTRACT.deliverySteps;  // served from contract/names.py

// Orders on their way: record the next delivery step from the row (a driver for driver_assigned).
export function deliveries() {
  return new Board({
    id: "deliveries", title: "deliveries", path: "/orders", key: (o) => o.order_id, items: (p) => p.orders,
    filters: () => [choice("status", "status", ["open", "placed", "in_delivery", "incident_open", "delivered"], "open")],
    columns: ["order", "customer", "tier", "step", "driver", "updated"],
    cells: (o) => [el("span", { title: o.order_id }, o.order_id.slice(0, 8)), o.customer_id, t(o.tier),
      el("span", { class: o.open_incidents.length ? "badge bad" : "badge" },
        o.open_incidents.length ? `${t("incident_open")}: ${o.open_incidents[0].description}` : t(o.current_step || "placed")),
      o.driver || "", when(o.updated_at)],
    actions: (o, board) => (o.open_incidents.length ? incidentActions(o, board) : stepActions(o, board)),
  });
}

function stepActions(o, board) {
  const next = STEPS[STEPS.indexOf(o.current_step) + 1];
  if (!next || o.status === "cancelled") return [];
  const input = (name, size) => el("input", { name, size, placeholder: t(name) });
  // A driver is named when assigned; a vehicle on the road reports where it is.
  const driver = next === "driver_assigned" ? input("driver", 8) : null;
  const [lat, lng] = next === "in_transit" ? [input("lat", 6), input("lng", 6)] : [null, null];
  return [driver, lat, lng, board.action(o, next, (h) => {
    if (driver && !driver.value.trim()) throw new ApiError(422, { detail: t("driver_needed") });
    if (lat && !(lat.value && lng.value)) throw new ApiError(422, { detail: t("position_needed") });
    return api("POST", `/orders/${o.order_id}/delivery-steps`, { step: next,
      ...(driver ? { driver: driver.value.trim() } : {}),
      ...(lat ? { position: { lat: Number(lat.value), lng: Number(lng.value) } } : {}) }, h);
  }, "primary")];
}

// An incident on the road (the oldest open one) is resolved where the goods are, or the order
// is re-dispatched: back to waiting for a driver, once one had been assigned. The reason is
// recorded and shown to the customer.
function incidentActions(o, board) {
  const incident = o.open_incidents[0];
  const reason = el("input", { name: "reason", size: 14, placeholder: t("reason") });
  const resolve = (resolution) => (h) => {
    if (!reason.value.trim()) throw new ApiError(422, { detail: t("reason_needed") });
    return api("POST", `/orders/${o.order_id}/incidents/${encodeURIComponent(incident.incident_id)}/resolve`,
      { resolution, reason: reason.value.trim() }, h);
  };
  const driverGone = STEPS.indexOf(o.current_step) >= STEPS.indexOf("driver_assigned");
  return [reason, board.action(o, "resolve_incident", resolve("resolved"), "primary"),
    driverGone ? board.action(o, "redispatch", resolve("redispatched")) : null];
}

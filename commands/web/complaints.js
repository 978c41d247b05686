// The complaint desk's boards: complaints to acknowledge and close, and compensation claims
// whose 48-hour proposal clock counts down (propose an amount before it runs out).
import { Board, choice, countdown } from "./board.js";

const short = (id) => el("span", { title: id }, id.slice(0, 8));
// The next step of a complaint's handling: [action, path, the text it needs (if any)].
const COMPLAINT_NEXT = {
  filed: ["acknowledge", "acknowledge"],
  acknowledged: ["investigate", "investigation", "findings"],
  investigating: ["resolve", "resolve", "resolution"],
  reopened: ["resolve", "resolve", "resolution"],
  resolved: ["close", "close"],
};

export function complaintsBoard() {
  return new Board({
    id: "complaints", title: "complaints_board", path: "/complaints", key: (c) => c.complaint_id,
    items: (p) => p.complaints,
    filters: () => [choice("status", "status", ["", "filed", "acknowledged", "investigating", "resolved", "reopened",
      "closed"], ""), el("input", { type: "hidden", name: "open_only", value: "true" })],
    columns: ["complaint", "customer", "category", "status", "filed"],
    cells: (c) => [short(c.complaint_id), c.customer_id, t(c.category), el("span", { class: "badge" }, t(c.status)),
      when(c.filed_at)],
    actions: (c, board) => {
      const [next, path, needs] = COMPLAINT_NEXT[c.status] || [];
      if (!next) return [];
      const text = needs ? el("input", { name: needs, size: 16, placeholder: t(`${needs}_hint`) }) : null;
      return [text, board.action(c, next, (h) => {
        if (text && !text.value.trim()) throw new ApiError(422, { detail: t("reason_needed") });
        return api("POST", `/complaints/${c.complaint_id}/${path}`, text ? { [needs]: text.value.trim() } : undefined, h);
      }, "primary")];
    },
  });
}

export function claimsBoard() {
  return new Board({
    id: "claims", title: "claims_board", path: "/claims", key: (c) => c.claim_id, items: (p) => p.claims,
    filters: () => [choice("overdue", "deadline", ["", ["true", "overdue"], ["false", "within_deadline"]], "")],
    columns: ["claim", "customer", "status", "proposal_due", "escalation", "liability", "amount"],
    cells: (c) => [short(c.claim_id), c.customer_id, el("span", { class: "badge" }, t(c.status)),
      c.first_proposal_at ? el("span", { class: "badge ok" }, `${t("proposed")} ${when(c.first_proposal_at)}`)
        : countdown(c.proposal_due_at),
      c.escalation_level ? el("span", { class: "badge warn" }, `${t("level")} ${c.escalation_level}`) : "",
      c.liability ? t(c.liability) : "", c.amount || ""],
    actions: (c, board) => {
      if (c.status === "open" || c.status === "reopened" || c.status === "disputed") {
        const amount = el("input", { name: "amount", size: 7, placeholder: t("amount"), inputMode: "decimal" });
        const revising = c.status === "disputed";
        const reason = revising ? el("input", { name: "reason", size: 12, placeholder: t("reason") }) : null;
        return [amount, reason, board.action(c, revising ? "revise" : "propose", (h) => api("POST",
          `/claims/${c.claim_id}/${revising ? "revision" : "proposal"}`,
          { amount: amount.value.trim(), facts: [], ...(revising ? { reason: reason.value.trim() } : {}) }, h),
        "primary")];
      }
      if (c.status === "proposed") {
        return [board.action(c, "customer_accepts", (h) => api("POST", `/claims/${c.claim_id}/accept`, undefined, h))];
      }
      if (c.status === "paid") {
        return [board.action(c, "close", (h) => api("POST", `/claims/${c.claim_id}/close`, undefined, h))];
      }
      return [];
    },
  });
}

// The approvers' board: returns waiting for the signed-in approver's department, which they
// approve or reject (with the reason the customer will read) in one click.
import { Board, choice } from "./board.js";

export const approverRoles = ["sales", "technical", "finance", "logistics"].map((d) => `approver:${d}`);

// The departments this principal may vote for (its approver:<department> grants).
function departments(grants) {
  return grants.filter((g) => approverRoles.includes(g)).map((g) => g.slice("approver:".length));
}

export function returnsBoard(grants) {
  const mine = departments(grants);
  return new Board({
    id: "returns", title: "returns_board", path: "/returns", key: (r) => r.return_id, items: (p) => p.returns,
    filters: () => [choice("pending", "department", mine, mine[0])],
    columns: ["return", "customer", "resolution", "items", "requested", "waiting_for"],
    cells: (r) => [el("span", { title: r.return_id }, r.return_id.slice(0, 8)), r.customer_id, t(r.resolution),
      r.items.map((i) => `${i.quantity || 1} × ${i.sku}`).join(", "), when(r.requested_at),
      r.pending.map((d) => el("span", { class: "badge" }, t(d)))],
    actions: (r, board) => {
      const department = new FormData(board.filters).get("pending");
      if (!department || !r.pending.includes(department)) return [];
      const reason = el("input", { name: "reason", size: 14, placeholder: t("reason") });
      const vote = (approve) => (h) => {
        if (!approve && !reason.value.trim()) throw new ApiError(422, { detail: t("reason_needed") });
        return api("POST", `/returns/${r.return_id}/votes/${department}`,
          { approve, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) }, h);
      };
      return [board.action(r, "approve", vote(true), "primary"), reason, board.action(r, "reject", vote(false))];
    },
  });
}

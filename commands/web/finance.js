// Finance's settlement board: settle a finished month, pay each engineer's statement (with
// the bank reference), and every engineer's balance.
import { Board, choice, field } from "./board.js";

function lastMonth() {
  const d = new Date();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - 1);
  return d.toISOString().slice(0, 7);
}

// The period is part of the path; the other filters are the query.
function statementsPath(values) {
  const period = values.period;
  delete values.period;
  return `/settlements/${encodeURIComponent(period)}/statements`;
}

export function statementsBoard() {
  const board = new Board({
    id: "statements", title: "settlement", path: statementsPath, key: (s) => s.engineer,
    items: (p) => p.statements,
    filters: () => [field("period", "period", { value: lastMonth(), pattern: "\\d{4}-\\d{2}", size: 7, required: true }),
      choice("status", "status", ["", "issued", "paid"], "")],
    columns: ["engineer", "total", "holdback", "lines", "status", "issued", "reference"],
    cells: (s) => [el("strong", {}, s.engineer), s.total, s.holdback, s.line_count,
      el("span", { class: s.status === "paid" ? "badge ok" : "badge warn" }, t(s.status)), when(s.issued_at),
      s.reference || ""],
    actions: (s, b) => {
      if (s.status !== "issued") return [];
      const reference = el("input", { name: "reference", size: 14, placeholder: t("reference") });
      return [reference, b.action(s, "pay", (h) => {
        if (!reference.value.trim()) throw new ApiError(422, { detail: t("reference_needed") });
        return api("POST", `/engineers/${encodeURIComponent(s.engineer)}/statements/${s.period}/pay`,
          { reference: reference.value.trim() }, h);
      }, "primary")];
    },
  });
  const period = () => new FormData(board.filters).get("period");
  const settle = el("button", { type: "button", class: "settle", "data-i18n": "run_settlement" }, t("run_settlement"));
  settle.addEventListener("click", async () => {
    settle.disabled = true;
    try {
      const result = await api("POST", "/settlements", { period: period() }, { "Idempotency-Key": `settle-${period()}` });
      if (await board.load({ waitFor: result.position })) board.say(`${t("done")}: ${t("run_settlement")} ${period()}`, "result");
    } catch (e) { board.fail(e); } finally { settle.disabled = false; }
  });
  board.filters.append(settle);
  return board;
}

export function balancesBoard() {
  return new Board({
    id: "balances", title: "balances", path: "/engineers/balances", key: (a) => a.engineer, items: (p) => p.accounts,
    columns: ["engineer", "pending", "payable", "held", "settled", "paid", "owed"],
    cells: (a) => [el("strong", {}, a.engineer), a.totals.pending, a.totals.payable, a.totals.held, a.totals.settled,
      a.totals.paid, el("strong", {}, a.totals.owed)],
  });
}

"""Reading the money and quality views: engineer ledgers and statements, customer accounts,
and the service-quality figures. A mixin of ``Views``; sums are Decimal, never float.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from projections.payments import OUTSTANDING_SIGN
from sqlstore.sqldb import Database, load_json

CENT = Decimal("0.01")
LINE_KEYS = ("line_no", "kind", "amount", "status", "job_id", "rule", "reverses", "statement_period", "occurred_at",
             "cause", "evidence", "event_id")
STATEMENT_KEYS = ("period", "statement_id", "total", "holdback", "holdback_rule", "line_count", "status", "issued_at",
                  "paid_at", "reference")


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


class FinanceViews:
    db: Database

    # Engineer ledgers ---------------------------------------------------------------------

    def ledger(self, engineer: str, period: str | None = None) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            account = cur.execute("SELECT currency, opened_at FROM ledger_accounts WHERE engineer = %s",
                                  (engineer,)).fetchone()
            if account is None:
                return None
            sql = f"SELECT {', '.join(LINE_KEYS)} FROM ledger_lines WHERE engineer = %s"
            params: list[Any] = [engineer]
            if period:
                sql += " AND statement_period = %s"
                params.append(period)
            rows = cur.execute(sql + " ORDER BY line_no", params).fetchall()
        lines = [{**dict(zip(LINE_KEYS, r)), "cause": load_json(r[9]), "evidence": load_json(r[10])} for r in rows]
        totals: dict[str, Decimal] = {}
        for line in lines:
            totals[line["status"]] = totals.get(line["status"], Decimal(0)) + Decimal(line["amount"])
        balance = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
        paid = totals.get("paid", Decimal(0))
        return {"engineer": engineer, "currency": account[0], "opened_at": account[1],
                "totals": {**{s: _money(totals.get(s, Decimal(0)))
                              for s in ("pending", "payable", "held", "settled", "paid", "void")},
                           "balance": _money(balance), "owed": _money(balance - paid)},
                "lines": lines}

    def statements(self, engineer: str, period: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(STATEMENT_KEYS)} FROM ledger_statements WHERE engineer = %s"
        params: list[Any] = [engineer]
        if period:
            sql += " AND period = %s"
            params.append(period)
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY period", params).fetchall()
        return [{**dict(zip(STATEMENT_KEYS, r)), "engineer": engineer, "holdback_rule": load_json(r[4])} for r in rows]

    def settlement_run(self, period: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT period, period_start, period_end, statements, holdback_rule, currency, run_at "
                              "FROM settlement_runs WHERE period = %s", (period,)).fetchone()
        if row is None:
            return None
        keys = ("period", "period_start", "period_end", "statements", "holdback_rule", "currency", "run_at")
        return {**dict(zip(keys, row)), "statements": load_json(row[3]), "holdback_rule": load_json(row[4])}

    # Customer accounts --------------------------------------------------------------------

    def customer_account(self, customer_id: str) -> dict[str, Any]:
        return self._account("customer_id", customer_id)

    def order_account(self, order_id: str) -> dict[str, Any]:
        return self._account("order_id", order_id)

    def _account(self, column: str, value: str) -> dict[str, Any]:
        keys = ("movement", "customer_id", "order_id", "job_id", "amount", "occurred_at", "event_id", "event_type")
        with self.db.transaction() as cur:
            rows = cur.execute(f"SELECT {', '.join(keys)} FROM money_movements WHERE {column} = %s "
                               "ORDER BY occurred_at, movement_key", (value,)).fetchall()
            customers = [value] if column == "customer_id" else sorted({r[1] for r in rows})
            issues = cur.execute(
                "SELECT subject_id, issue, customer_id, detail, opened_at FROM customer_issues "
                f"WHERE opened_position > closed_position AND customer_id IN ({', '.join(['%s'] * len(customers))}) "
                "ORDER BY opened_at, subject_id", customers).fetchall() if customers else []
        movements = [dict(zip(keys, r)) for r in rows]
        totals = {m: Decimal(0) for m in (*OUTSTANDING_SIGN, "goods_refund", "compensation")}
        per_order: dict[str | None, Decimal] = {}
        for m in movements:
            amount = Decimal(m["amount"])
            totals[m["movement"]] += amount
            if m["movement"] in OUTSTANDING_SIGN:
                per_order[m["order_id"]] = per_order.get(m["order_id"], Decimal(0)) + OUTSTANDING_SIGN[m["movement"]] * amount
        outstanding = sum((OUTSTANDING_SIGN[k] * totals[k] for k in OUTSTANDING_SIGN), Decimal(0))
        return {column: value, "totals": {k: _money(v) for k, v in totals.items()},
                "outstanding": _money(outstanding),
                "by_order": [{"order_id": o, "outstanding": _money(v)} for o, v in sorted(
                    per_order.items(), key=lambda kv: kv[0] or "") if v != 0],
                "open_issues": [dict(zip(("subject_id", "issue", "customer_id", "detail", "opened_at"), i))
                                for i in issues],
                "movements": movements}

    # Quality figures ----------------------------------------------------------------------

    def quality_figures(self, *, since: datetime | None, until: datetime | None,
                        repair_window_days: int) -> dict[str, Any]:
        """The figures the business is run on, over jobs first completed in [since, until)."""
        def within(at: str | None) -> bool:
            if at is None:
                return False
            moment = datetime.fromisoformat(at)
            return (since is None or moment >= since) and (until is None or moment < until)

        keys = ("job_id", "kind", "related_id", "engineer", "opened_at", "first_completed_at", "completions",
                "fault_cause", "fixed", "verified_visits", "reopened")
        with self.db.transaction() as cur:
            jobs = [dict(zip(keys, r)) for r in cur.execute(f"SELECT {', '.join(keys)} FROM quality_jobs").fetchall()]
            followups = cur.execute("SELECT engineer, satisfaction, recorded_at FROM quality_followups "
                                    "WHERE satisfaction IS NOT NULL").fetchall()
            slas = cur.execute("SELECT tier, breached, used_seconds FROM sla_board WHERE status = 'completed'"
                               ).fetchall()
            complaints = cur.execute("SELECT category, COUNT(*) FROM complaints_board GROUP BY category "
                                     "ORDER BY category").fetchall()
            compensation = cur.execute("SELECT month, paid, payments FROM compensation_monthly ORDER BY month"
                                       ).fetchall()
        completed = [j for j in jobs if within(j["first_completed_at"])]
        caused_repairs: dict[str, list[dict[str, Any]]] = {}
        for j in jobs:
            if j["kind"] == "repair" and j["fault_cause"] == "installation_error" and j["related_id"]:
                caused_repairs.setdefault(j["related_id"], []).append(j)
        window = timedelta(days=repair_window_days)
        installers: dict[str, list[int]] = {}
        for j in completed:
            if j["kind"] != "installation" or not j["engineer"]:
                continue
            done = datetime.fromisoformat(j["first_completed_at"])
            repaired = any(datetime.fromisoformat(r["opened_at"]) <= done + window for r in caused_repairs.get(j["job_id"], []))
            counts = installers.setdefault(j["engineer"], [0, 0])
            counts[0] += 1
            counts[1] += int(repaired)
        repairs = [j for j in completed if j["kind"] == "repair"]
        first_time = [j for j in repairs if j["fixed"] and j["verified_visits"] <= 1 and not j["reopened"]]
        repeat = [j for j in completed if j["verified_visits"] > 1 or j["reopened"]]
        csat: dict[str, list[int]] = {}
        for engineer, satisfaction, recorded_at in followups:
            if within(recorded_at):
                csat.setdefault(engineer or "unknown", []).append(int(satisfaction))
        tiers: dict[str, list[int]] = {}
        for tier, breached, used in slas:
            t = tiers.setdefault(tier, [0, 0, 0])
            t[0] += 1
            t[1] += 0 if breached else 1
            t[2] += int(used)
        return {
            "since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
            "first_install_repair_rate": {
                "window_days": repair_window_days,
                "installers": [{"engineer": e, "installations": n, "repaired_for_installation_error": r,
                                "rate": _ratio(r, n)} for e, (n, r) in sorted(installers.items())]},
            "first_time_fix_rate": {"repairs": len(repairs), "fixed_first_time": len(first_time),
                                    "rate": _ratio(len(first_time), len(repairs))},
            "repeat_visit_rate": {"jobs": len(completed), "repeat_visits": len(repeat),
                                  "rate": _ratio(len(repeat), len(completed))},
            "sla_attainment": [{"tier": t, "completed": n, "within_target": ok, "rate": _ratio(ok, n),
                                "mean_time_to_resolve_business_seconds": round(used / n) if n else None}
                               for t, (n, ok, used) in sorted(tiers.items())],
            "complaints_by_category": [{"category": c, "count": int(n)} for c, n in complaints],
            "compensation_paid_by_month": [{"month": m, "paid": p, "payments": int(n)} for m, p, n in compensation],
            "satisfaction_by_engineer": [{"engineer": e, "follow_ups": len(s),
                                          "mean": round(sum(s) / len(s), 2),
                                          "csat": _ratio(sum(1 for x in s if x >= 4), len(s))}
                                         for e, s in sorted(csat.items())],
        }

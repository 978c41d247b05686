"""Per-engineer settlement ledger: every money line with the event that caused it, and the
statements each settlement run issued (workflow 8). Amounts are decimal strings; sums are
taken in Python with Decimal, never in floating point. Finance's settlement board reads it
(``LedgerReads``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.base import Projection
from projections.paging import Keyset, board_page
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json


class EngineerLedger(Projection):
    name = "engineer_ledger"
    categories = ("accounts", "settlements")
    tables = ("ledger_accounts", "ledger_lines", "ledger_statements", "settlement_runs")

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS ledger_accounts (
                account_id TEXT PRIMARY KEY,
                engineer TEXT NOT NULL UNIQUE,
                currency TEXT NOT NULL,
                opened_at TEXT NOT NULL
            )""",
            f"""CREATE TABLE IF NOT EXISTS ledger_lines (
                engineer TEXT NOT NULL,
                line_no INTEGER NOT NULL,
                kind TEXT NOT NULL,
                amount TEXT NOT NULL,
                status TEXT NOT NULL,
                job_id TEXT,
                rule TEXT,
                reverses INTEGER,
                statement_period TEXT,
                occurred_at TEXT NOT NULL,
                cause {db.json_type},
                evidence {db.json_type},
                event_id TEXT NOT NULL,
                PRIMARY KEY (engineer, line_no)
            )""",
            "CREATE INDEX IF NOT EXISTS ledger_lines_by_job ON ledger_lines (job_id)",
            f"""CREATE TABLE IF NOT EXISTS ledger_statements (
                engineer TEXT NOT NULL,
                period TEXT NOT NULL,
                statement_id TEXT NOT NULL,
                total TEXT NOT NULL,
                holdback TEXT NOT NULL,
                holdback_rule {db.json_type} NOT NULL,
                line_count INTEGER NOT NULL,
                status TEXT NOT NULL,
                issued_at TEXT NOT NULL,
                paid_at TEXT,
                reference TEXT,
                PRIMARY KEY (engineer, period)
            )""",
            f"""CREATE TABLE IF NOT EXISTS settlement_runs (
                period TEXT PRIMARY KEY,
                period_start TEXT NOT NULL,
                period_end TEXT NOT NULL,
                statements {db.json_type} NOT NULL,
                holdback_rule {db.json_type} NOT NULL,
                currency TEXT NOT NULL,
                run_at TEXT NOT NULL
            )""",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, at = short_type(env), env["data"], env["time"]
        if kind == "PeriodSettled":
            cur.execute(
                "INSERT INTO settlement_runs (period, period_start, period_end, statements, holdback_rule, currency, "
                "run_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (d["period"], d["period_start"], d["period_end"], dump_json(d["statements"]),
                 dump_json(d["holdback_rule"]), d["currency"], at))
            return
        engineer = self._engineer(cur, env)
        if kind == "AccountOpened":
            cur.execute("INSERT INTO ledger_accounts (account_id, engineer, currency, opened_at) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", (env["subject"], engineer, d["currency"], at))
        elif kind == "FeeEarned":
            self._line(cur, env, engineer, d["line"], "fee", d["amount"], "pending", job_id=d["job_id"])
        elif kind == "FeeConfirmed":
            cur.execute("UPDATE ledger_lines SET status = 'payable' WHERE engineer = %s AND line_no = %s",
                        (engineer, d["line"]))
        elif kind == "DeductionApplied":
            self._line(cur, env, engineer, d["line"], "deduction", f"-{d['amount']}", "payable", job_id=d["job_id"],
                       rule=d["rule"], evidence=d["evidence"])
        elif kind == "FeeReversed":
            self._line(cur, env, engineer, d["line"], "reversal", d["amount"], "void" if d["voids"] else "payable",
                       job_id=d["job_id"], reverses=d["reverses"])
            if d["voids"]:
                cur.execute("UPDATE ledger_lines SET status = 'void' WHERE engineer = %s AND line_no = %s",
                            (engineer, d["reverses"]))
        elif kind == "StatementIssued":
            self._statement(cur, env, engineer)
        elif kind == "StatementPaid":
            cur.execute("UPDATE ledger_statements SET status = 'paid', paid_at = %s, reference = %s "
                        "WHERE engineer = %s AND period = %s", (d["at"], d["reference"], engineer, d["period"]))
            cur.execute("UPDATE ledger_lines SET status = 'paid' WHERE engineer = %s AND statement_period = %s",
                        (engineer, d["period"]))

    def _statement(self, cur: Cursor, env: dict[str, Any], engineer: str) -> None:
        d = env["data"]
        numbers = list(d["lines"])
        if Decimal(d["holdback"]) > 0:
            # The aggregate numbers the holdback and its release after the last line.
            last = cur.execute("SELECT COALESCE(MAX(line_no), 0) FROM ledger_lines WHERE engineer = %s",
                               (engineer,)).fetchone()[0]  # type: ignore[index]  # MAX always gives a row
            rule = d["holdback_rule"].get("rule")
            self._line(cur, env, engineer, last + 1, "holdback", f"-{d['holdback']}", "payable", rule=rule)
            self._line(cur, env, engineer, last + 2, "holdback_release", d["holdback"], "held", rule=rule,
                       occurred_at=d["period_end"])
            numbers.append(last + 1)
        for n in numbers:
            cur.execute("UPDATE ledger_lines SET status = 'settled', statement_period = %s "
                        "WHERE engineer = %s AND line_no = %s", (d["period"], engineer, n))
        cur.execute(
            "INSERT INTO ledger_statements (engineer, period, statement_id, total, holdback, holdback_rule, line_count, "
            "status, issued_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 'issued', %s) ON CONFLICT DO NOTHING",
            (engineer, d["period"], d["statement_id"], d["total"], d["holdback"], dump_json(d["holdback_rule"]),
             len(numbers), d["at"]))

    @staticmethod
    def _engineer(cur: Cursor, env: dict[str, Any]) -> str:
        if short_type(env) == "AccountOpened":
            return env["data"]["engineer"]
        # AccountOpened comes first on the account's partition, so the account is known.
        return cur.execute("SELECT engineer FROM ledger_accounts WHERE account_id = %s",
                           (env["subject"],)).fetchone()[0]  # type: ignore[index]  # opened first

    @staticmethod
    def _line(cur: Cursor, env: dict[str, Any], engineer: str, line_no: int, kind: str, amount: str, status: str, *,
              job_id: str | None = None, rule: str | None = None, reverses: int | None = None,
              evidence: dict[str, Any] | None = None, occurred_at: str | None = None) -> None:
        d = env["data"]
        amount = amount[2:] if amount.startswith("--") else amount
        cur.execute(
            "INSERT INTO ledger_lines (engineer, line_no, kind, amount, status, job_id, rule, reverses, "
            "statement_period, occurred_at, cause, evidence, event_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (engineer, line_no, kind, amount, status, job_id, rule, reverses, occurred_at or d.get("at") or env["time"],
             dump_json(d.get("cause")), dump_json(evidence), env["id"]))


STATEMENT_ROW_KEYS = ("engineer", "period", "statement_id", "total", "holdback", "line_count", "status", "issued_at",
                      "paid_at", "reference", "version")
ACCOUNT_KEYS = ("engineer", "account_id", "currency", "opened_at", "version")


class LedgerReads:
    """Finance's settlement board: a period's statements to pay, and every engineer's balance
    (by engineer)."""

    db: Database
    BY_ENGINEER = Keyset(("b.engineer",))

    def period_statements(self, period: str, status: str | None = None, *, limit: int = 50,
                          cursor: str | None = None) -> dict[str, Any]:
        where, params = "b.period = %s", [period]
        if status:
            where += " AND b.status = %s"
            params.append(status)
        rows, next_cursor = board_page(
            self.db, self.BY_ENGINEER, STATEMENT_ROW_KEYS, "ledger_statements", EngineerLedger.name,
            "(SELECT a.account_id FROM ledger_accounts a WHERE a.engineer = b.engineer)", where, params, limit, cursor)
        return {"period": period, "statements": rows, "next_cursor": next_cursor}

    def balances(self, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """Each engineer's money by line status, and what is owed (settled or payable, not paid)."""
        rows, next_cursor = board_page(self.db, self.BY_ENGINEER, ACCOUNT_KEYS, "ledger_accounts",
                                       EngineerLedger.name, "b.account_id", "1 = 1", [], limit, cursor)
        sums: dict[str, dict[str, Decimal]] = {r["engineer"]: {} for r in rows}
        if sums:
            with self.db.transaction() as cur:
                for engineer, status, amount in cur.execute(
                        f"SELECT engineer, status, amount FROM ledger_lines WHERE engineer IN "
                        f"({', '.join(['%s'] * len(sums))})", list(sums)).fetchall():
                    sums[engineer][status] = sums[engineer].get(status, Decimal(0)) + Decimal(amount)
        return {"accounts": [{**r, "totals": _totals(sums[r["engineer"]])} for r in rows], "next_cursor": next_cursor}


def _totals(by_status: dict[str, Decimal]) -> dict[str, str]:
    """As the ledger read totals them: ``owed`` is the balance of every line less what was paid."""
    owed = sum(by_status.values(), Decimal(0)) - by_status.get("paid", Decimal(0))
    cent = Decimal("0.01")
    shown = ("pending", "payable", "held", "settled", "paid")
    return {**{s: str(by_status.get(s, Decimal(0)).quantize(cent)) for s in shown}, "owed": str(owed.quantize(cent))}

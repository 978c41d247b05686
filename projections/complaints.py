"""Complaint and claim views: complaints by category and state, claims with their deadlines,
and compensation paid per month; and the reads of them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.base import Projection
from projections.paging import Keyset, board_page
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database

COMPLAINT_STATUS = {"ComplaintAcknowledged": "acknowledged", "ComplaintInvestigated": "investigating",
                    "ComplaintResolved": "resolved", "ComplaintClosed": "closed", "ComplaintReopened": "reopened"}
CLAIM_STATUS = {"CompensationProposed": "proposed", "ProposalDisputed": "disputed", "CompensationRevised": "proposed",
                "ProposalAccepted": "accepted", "CompensationPaid": "paid", "ClaimClosed": "closed",
                "ClaimReopened": "reopened"}


class ComplaintsBoard(Projection):
    name = "complaints_board"
    categories = ("complaints", "claims")
    tables = ("complaints_board", "claims_board", "compensation_monthly")

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS complaints_board (
                complaint_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                category TEXT NOT NULL,
                status TEXT NOT NULL,
                filed_at TEXT NOT NULL,
                closed_at TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS complaints_by_category ON complaints_board (category, status)",
            """CREATE TABLE IF NOT EXISTS claims_board (
                claim_id TEXT PRIMARY KEY,
                complaint_id TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                status TEXT NOT NULL,
                proposal_due_at TEXT NOT NULL,
                first_proposal_at TEXT,
                proposal_overdue BOOLEAN NOT NULL,
                escalation_level INTEGER NOT NULL,
                liability TEXT,
                amount TEXT,
                paid_total TEXT NOT NULL,
                opened_at TEXT NOT NULL
            )""",
            # Money as decimal text summed in Python: exact in both dialects.
            """CREATE TABLE IF NOT EXISTS compensation_monthly (
                month TEXT PRIMARY KEY,
                paid TEXT NOT NULL,
                payments INTEGER NOT NULL
            )""",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, subject, at = short_type(env), env["data"], env["subject"], env["time"]
        if kind == "ComplaintFiled":
            cur.execute("INSERT INTO complaints_board (complaint_id, customer_id, category, status, filed_at) "
                        "VALUES (%s, %s, %s, 'filed', %s) ON CONFLICT DO NOTHING",
                        (subject, d["customer_id"], d["category"], at))
        elif kind in COMPLAINT_STATUS:
            cur.execute("UPDATE complaints_board SET status = %s, closed_at = %s WHERE complaint_id = %s",
                        (COMPLAINT_STATUS[kind], at if kind == "ComplaintClosed" else None, subject))
        elif kind == "ClaimOpened":
            cur.execute(
                "INSERT INTO claims_board (claim_id, complaint_id, customer_id, status, proposal_due_at, "
                "first_proposal_at, proposal_overdue, escalation_level, liability, amount, paid_total, opened_at) "
                "VALUES (%s, %s, %s, 'open', %s, NULL, FALSE, 0, NULL, NULL, '0.00', %s) ON CONFLICT DO NOTHING",
                (subject, d["complaint_id"], d["customer_id"], d["proposal_due_at"], at))
        elif kind == "LiabilityDetermined":
            cur.execute("UPDATE claims_board SET liability = %s WHERE claim_id = %s", (d["party"], subject))
        elif kind == "ProposalOverdue":
            cur.execute("UPDATE claims_board SET proposal_overdue = TRUE, escalation_level = %s WHERE claim_id = %s",
                        (d["escalation_level"], subject))
        if kind in CLAIM_STATUS:
            self._claim_step(cur, kind, d, subject, at)

    def _claim_step(self, cur: Cursor, kind: str, d: dict[str, Any], claim_id: str, at: str) -> None:
        cur.execute("UPDATE claims_board SET status = %s WHERE claim_id = %s", (CLAIM_STATUS[kind], claim_id))
        if kind == "CompensationProposed":
            cur.execute("UPDATE claims_board SET amount = %s, first_proposal_at = %s WHERE claim_id = %s",
                        (d["amount"], at, claim_id))
        elif kind == "CompensationRevised":
            cur.execute("UPDATE claims_board SET amount = %s WHERE claim_id = %s", (d["amount"], claim_id))
        elif kind == "ProposalDisputed":
            cur.execute("UPDATE claims_board SET escalation_level = %s WHERE claim_id = %s",
                        (d["escalation_level"], claim_id))
        elif kind == "CompensationPaid":
            row = cur.execute("SELECT paid_total FROM claims_board WHERE claim_id = %s", (claim_id,)).fetchone()
            cur.execute("UPDATE claims_board SET paid_total = %s WHERE claim_id = %s",
                        (str(Decimal(row[0] if row else "0") + Decimal(d["amount"])), claim_id))
            month = at[:7]
            found = cur.execute("SELECT paid, payments FROM compensation_monthly WHERE month = %s", (month,)).fetchone()
            paid = Decimal(found[0]) if found else Decimal("0")
            cur.execute(
                "INSERT INTO compensation_monthly (month, paid, payments) VALUES (%s, %s, %s) ON CONFLICT (month) "
                "DO UPDATE SET paid = EXCLUDED.paid, payments = EXCLUDED.payments",
                (month, str(paid + Decimal(d["amount"])), (found[1] if found else 0) + 1))


COMPLAINT_KEYS = ("complaint_id", "customer_id", "category", "status", "filed_at", "closed_at", "version")
CLAIM_KEYS = ("claim_id", "complaint_id", "customer_id", "status", "proposal_due_at", "first_proposal_at",
              "proposal_overdue", "escalation_level", "liability", "amount", "paid_total", "opened_at", "version")


class ComplaintReads:
    """The complaint desk's lists: complaints by category and state (oldest first), claims by
    their proposal deadline (soonest first), compensation paid per month."""

    db: Database
    COMPLAINTS = Keyset(("b.filed_at", "b.complaint_id"))
    CLAIMS = Keyset(("b.proposal_due_at", "b.claim_id"))

    def complaints(self, category: str | None = None, status: str | None = None, *, open_only: bool = False,
                   limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """Counts by category and state, and a page of the matching complaints."""
        with self.db.transaction() as cur:
            counts = cur.execute("SELECT category, status, COUNT(*) FROM complaints_board GROUP BY category, status "
                                 "ORDER BY category, status").fetchall()
        where, params = "1 = 1", []
        for column, value in (("b.category", category), ("b.status", status)):
            if value:
                where += f" AND {column} = %s"
                params.append(value)
        if open_only:
            where += " AND b.status <> 'closed'"
        rows, next_cursor = board_page(self.db, self.COMPLAINTS, COMPLAINT_KEYS, "complaints_board",
                                       ComplaintsBoard.name, "b.complaint_id", where, params, limit, cursor)
        return {"counts": [{"category": c, "status": s, "count": int(n)} for c, s, n in counts],
                "complaints": rows, "next_cursor": next_cursor}

    def claims(self, open_only: bool = True, *, overdue: bool | None = None, limit: int = 50,
               cursor: str | None = None) -> dict[str, Any]:
        where, params = "1 = 1", []
        if open_only:
            where += " AND b.status <> 'closed'"
        if overdue is not None:
            where += " AND b.proposal_overdue = %s"
            params.append(overdue)
        rows, next_cursor = board_page(self.db, self.CLAIMS, CLAIM_KEYS, "claims_board", ComplaintsBoard.name,
                                       "b.claim_id", where, params, limit, cursor)
        return {"claims": [{**r, "proposal_overdue": bool(r["proposal_overdue"])} for r in rows],
                "next_cursor": next_cursor}

    def compensation_by_month(self) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT month, paid, payments FROM compensation_monthly ORDER BY month").fetchall()
        return [{"month": m, "paid": p, "payments": int(n)} for m, p, n in rows]

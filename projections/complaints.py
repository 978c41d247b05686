"""Complaint and claim views: complaints by category and state, claims with their deadlines,
and compensation paid per month; and the reads of them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.base import Projection
from projections.paging import Keyset, board_page, read_row
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json, load_json

COMPLAINT_STATUS = {"ComplaintAcknowledged": "acknowledged", "ComplaintInvestigated": "investigating",
                    "ComplaintResolved": "resolved", "ComplaintClosed": "closed", "ComplaintReopened": "reopened"}
CLAIM_STATUS = {"CompensationProposed": "proposed", "ProposalDisputed": "disputed", "CompensationRevised": "proposed",
                "ProposalAccepted": "accepted", "CompensationPaid": "paid", "ClaimClosed": "closed",
                "ClaimReopened": "reopened"}


class ComplaintsBoard(Projection):
    name = "complaints_board"
    categories = ("complaints", "claims")
    tables = ("complaints_board", "claims_board", "compensation_monthly")
    # 2: complaints and claims whole, as GET /complaints/{id} and /claims/{id} show them (issue 16)
    layout = 2

    def ddl(self, db: Database) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS complaints_board (
                complaint_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                category TEXT NOT NULL,
                status TEXT NOT NULL,
                filed_at TEXT NOT NULL,
                closed_at TEXT,
                claim_ids {db.json_type} NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS complaints_by_category ON complaints_board (category, status)",
            f"""CREATE TABLE IF NOT EXISTS claims_board (
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
                opened_at TEXT NOT NULL,
                facts {db.json_type} NOT NULL,
                revision INTEGER NOT NULL,
                last_payment TEXT
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
            cur.execute("INSERT INTO complaints_board (complaint_id, customer_id, category, status, filed_at, "
                        "claim_ids) VALUES (%s, %s, %s, 'filed', %s, %s) ON CONFLICT DO NOTHING",
                        (subject, d["customer_id"], d["category"], at, dump_json([])))
        elif kind == "CompensationClaimStarted":
            row = cur.execute("SELECT claim_ids FROM complaints_board WHERE complaint_id = %s", (subject,)).fetchone()
            if row is not None:
                cur.execute("UPDATE complaints_board SET claim_ids = %s WHERE complaint_id = %s",
                            (dump_json([*load_json(row[0]), d["claim_id"]]), subject))
        elif kind in COMPLAINT_STATUS:
            cur.execute("UPDATE complaints_board SET status = %s, closed_at = %s WHERE complaint_id = %s",
                        (COMPLAINT_STATUS[kind], at if kind == "ComplaintClosed" else None, subject))
        elif kind == "ClaimOpened":
            cur.execute(
                "INSERT INTO claims_board (claim_id, complaint_id, customer_id, status, proposal_due_at, "
                "first_proposal_at, proposal_overdue, escalation_level, liability, amount, paid_total, opened_at, "
                "facts, revision, last_payment) "
                "VALUES (%s, %s, %s, 'open', %s, NULL, FALSE, 0, NULL, NULL, '0.00', %s, %s, 0, NULL) "
                "ON CONFLICT DO NOTHING",
                (subject, d["complaint_id"], d["customer_id"], d["proposal_due_at"], at, dump_json({})))
        elif kind == "FactRecorded":
            row = cur.execute("SELECT facts FROM claims_board WHERE claim_id = %s", (subject,)).fetchone()
            if row is not None:
                cur.execute("UPDATE claims_board SET facts = %s WHERE claim_id = %s",
                            (dump_json({**load_json(row[0]), d["fact_id"]: d["fact"]}), subject))
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
            cur.execute("UPDATE claims_board SET amount = %s, revision = %s, first_proposal_at = %s WHERE claim_id = %s",
                        (d["amount"], d["revision"], at, claim_id))
        elif kind == "CompensationRevised":
            cur.execute("UPDATE claims_board SET amount = %s, revision = %s WHERE claim_id = %s",
                        (d["amount"], d["revision"], claim_id))
        elif kind == "ProposalDisputed":
            cur.execute("UPDATE claims_board SET escalation_level = %s WHERE claim_id = %s",
                        (d["escalation_level"], claim_id))
        elif kind == "CompensationPaid":
            row = cur.execute("SELECT paid_total FROM claims_board WHERE claim_id = %s", (claim_id,)).fetchone()
            paid_total = (Decimal(row[0] if row else "0") + Decimal(d["amount"])).quantize(Decimal("0.01"))
            cur.execute("UPDATE claims_board SET paid_total = %s, last_payment = %s WHERE claim_id = %s",
                        (str(paid_total), d["amount"], claim_id))
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

    def complaint(self, complaint_id: str) -> dict[str, Any] | None:
        """The complaint as GET /complaints/{id} shows it, or None if the view does not hold it."""
        keys = ("complaint_id", "version", "customer_id", "category", "status", "claim_ids")
        found = read_row(self.db, ComplaintsBoard.name, "complaints_board", "complaint_id", complaint_id, keys)
        return None if found is None else {**found, "claim_ids": load_json(found["claim_ids"])}

    def claim(self, claim_id: str) -> dict[str, Any] | None:
        """The claim as GET /claims/{id} shows it, or None if the view does not hold it."""
        keys = ("claim_id", "version", "complaint_id", "customer_id", "status", "facts", "liability", "amount",
                "revision", "escalation_level", "proposal_due_at", "proposal_overdue", "paid_total", "last_payment")
        found = read_row(self.db, ComplaintsBoard.name, "claims_board", "claim_id", claim_id, keys)
        if found is None:
            return None
        paid = None if found["last_payment"] is None else found.pop("paid_total")
        found.pop("paid_total", None)
        # What is still to pay on an accepted amount (zero otherwise): the events' amounts, summed.
        due = Decimal(found["amount"]) - Decimal(paid or "0") \
            if found["status"] == "accepted" and found["amount"] is not None else Decimal(0)
        return {**found, "facts": load_json(found["facts"]), "proposal_overdue": bool(found["proposal_overdue"]),
                "paid": paid, "due": f"{due:.2f}"}

    def compensation_by_month(self) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT month, paid, payments FROM compensation_monthly ORDER BY month").fetchall()
        return [{"month": m, "paid": p, "payments": int(n)} for m, p, n in rows]

"""Customer accounts: what each customer was charged, paid and refunded, per order, and the
unresolved service issues shown beside an unpaid balance (workflow 9, seed 004).

Charges follow one rule, written here once: an order charges its installation fees when it
is placed; any other job (a repair, a replacement, a visit, an installation opened without
an order) charges its fee when first completed, if the customer pays for it (a repair
caused by an installation error or by product quality is the installer's or the maker's:
``charged_to``). A self-installation credits the fee back. Money taken on site for a job is
counted once: from the job's ``PaymentRecorded`` (a payment ``recorded_on_job`` mirrors it).

Events arrive on several topics with no order between them, so every row is keyed by the
fact it records and every issue keeps the store positions that opened and closed it: the
view is the same whatever order the topics are read in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.base import Projection
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database

# Movements that change what the customer owes for service, with their sign.
OUTSTANDING_SIGN = {"charge": 1, "credit": -1, "received": -1, "refunded": 1}
ISSUE_OPENERS = {
    "ComplaintFiled": "complaint", "ComplaintReopened": "complaint", "ClaimOpened": "claim", "ClaimReopened": "claim",
    "ChargesDisputed": "charges_disputed", "JobReopened": "work_reopened",
}
ISSUE_CLOSERS = {
    "ComplaintClosed": ("complaint",), "ClaimClosed": ("claim",), "JobConfirmed": ("charges_disputed", "not_fixed"),
    "JobCompleted": ("work_reopened",),
}


class CustomerAccounts(Projection):
    name = "customer_accounts"
    categories = ("orders", "jobs", "followups", "payments", "refunds", "returns", "claims", "complaints")
    tables = ("money_subjects", "money_movements", "customer_issues")

    def ddl(self, db: Database) -> list[str]:
        return [
            # Jobs, follow-ups, returns and claims: whose they are (their first event says it).
            """CREATE TABLE IF NOT EXISTS money_subjects (
                subject_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                order_id TEXT,
                job_id TEXT,
                kind TEXT,
                fee TEXT
            )""",
            """CREATE TABLE IF NOT EXISTS money_movements (
                movement_key TEXT PRIMARY KEY,
                movement TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                order_id TEXT,
                job_id TEXT,
                amount TEXT NOT NULL,
                occurred_at TEXT NOT NULL,
                event_id TEXT NOT NULL,
                event_type TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS money_movements_by_customer ON money_movements (customer_id)",
            "CREATE INDEX IF NOT EXISTS money_movements_by_order ON money_movements (order_id)",
            """CREATE TABLE IF NOT EXISTS customer_issues (
                subject_id TEXT NOT NULL,
                issue TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                detail TEXT,
                opened_position BIGINT NOT NULL,
                closed_position BIGINT NOT NULL,
                opened_at TEXT,
                PRIMARY KEY (subject_id, issue)
            )""",
            "CREATE INDEX IF NOT EXISTS customer_issues_by_customer ON customer_issues (customer_id)",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, subject = short_type(env), env["data"], env["subject"]
        if kind in ("JobOpened", "ReturnRequested", "ClaimOpened", "FollowUpScheduled", "ComplaintFiled"):
            cur.execute("INSERT INTO money_subjects (subject_id, customer_id, order_id, job_id, kind, fee) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (subject, d["customer_id"], d.get("order_id"), d.get("job_id"), d.get("kind"), d.get("fee")))
        if kind == "OrderPlaced":
            fees = sum((Decimal(i["installation_fee"]) * i["quantity"] for i in d["items"]), Decimal(0))
            self._move(cur, env, f"charge:order:{subject}", "charge", d["customer_id"], subject, None, fees)
        elif kind == "JobCompleted":
            job = self._subject(cur, subject)
            charged = d.get("charged_to", "customer") == "customer"
            if charged and not (job["kind"] == "installation" and job["order_id"]):
                self._move(cur, env, f"charge:job:{subject}", "charge", job["customer_id"], job["order_id"], subject,
                           Decimal(job["fee"]))
        elif kind == "SelfInstallationAgreed":
            job = self._subject(cur, subject)
            self._move(cur, env, env["id"], "credit", job["customer_id"], job["order_id"], subject,
                       Decimal(d["fee_refunded"]))
        elif kind == "PaymentRecorded" and d["collected"]:
            job = self._subject(cur, subject)
            self._move(cur, env, env["id"], "received", job["customer_id"], job["order_id"], subject,
                       Decimal(d["amount"]))
        elif kind == "PaymentReceived" and d.get("recorded_on_job"):
            pass  # counted from the job's PaymentRecorded, written with it
        elif kind in ("PaymentReceived", "RefundPaid"):
            self._move(cur, env, env["id"], "received" if kind == "PaymentReceived" else "refunded", d["customer_id"],
                       d["order_id"], d["job_id"], Decimal(d["amount"]))
        elif kind in ("RefundIssued", "CompensationPaid"):
            owner = self._subject(cur, subject)
            self._move(cur, env, env["id"], "goods_refund" if kind == "RefundIssued" else "compensation",
                       owner["customer_id"], owner["order_id"], None, Decimal(d["amount"]))
        self._issues(cur, env, kind, d, subject)

    def _issues(self, cur: Cursor, env: dict[str, Any], kind: str, d: dict[str, Any], subject: str) -> None:
        position = int(env["position"])
        opened = ISSUE_OPENERS.get(kind)
        owner = d.get("customer_id")
        if kind == "FollowUpRecorded" and not d["fixed"]:
            # The follow-up names its customer: the job's own row may not have arrived yet
            # (jobs and follow-ups are different topics, read in no particular order).
            follow_up = self._subject(cur, subject)
            subject, opened, owner = follow_up["job_id"], "not_fixed", follow_up["customer_id"]
        if opened:
            owner = owner or self._subject(cur, subject)["customer_id"]
            detail = d.get("category") or d.get("damage") or (env.get("reason") or None)
            cur.execute(
                "INSERT INTO customer_issues (subject_id, issue, customer_id, detail, opened_position, closed_position, "
                "opened_at) VALUES (%s, %s, %s, %s, 0, 0, %s) ON CONFLICT DO NOTHING",
                (subject, opened, owner, detail, env["time"]))
            cur.execute("UPDATE customer_issues SET opened_position = %s, opened_at = %s, detail = %s "
                        "WHERE subject_id = %s AND issue = %s AND opened_position < %s",
                        (position, env["time"], detail, subject, opened, position))
        for closed in ISSUE_CLOSERS.get(kind, ()):
            cur.execute("UPDATE customer_issues SET closed_position = %s "
                        "WHERE subject_id = %s AND issue = %s AND closed_position < %s",
                        (position, subject, closed, position))
            if closed == "not_fixed":
                # The follow-up may be read after the confirmation: remember the close.
                owner = self._subject(cur, subject)["customer_id"]
                cur.execute(
                    "INSERT INTO customer_issues (subject_id, issue, customer_id, detail, opened_position, "
                    "closed_position, opened_at) VALUES (%s, %s, %s, NULL, 0, %s, NULL) ON CONFLICT DO NOTHING",
                    (subject, closed, owner, position))

    @staticmethod
    def _subject(cur: Cursor, subject_id: str) -> dict[str, Any]:
        row = cur.execute("SELECT customer_id, order_id, job_id, kind, fee FROM money_subjects WHERE subject_id = %s",
                          (subject_id,)).fetchone()
        if row is None:
            raise LookupError(f"{subject_id} is not known to the customer accounts: its first event is missing")
        return dict(zip(("customer_id", "order_id", "job_id", "kind", "fee"), row))

    @staticmethod
    def _move(cur: Cursor, env: dict[str, Any], key: str, movement: str, customer_id: str, order_id: str | None,
              job_id: str | None, amount: Decimal) -> None:
        if amount <= 0:
            return
        cur.execute(
            "INSERT INTO money_movements (movement_key, movement, customer_id, order_id, job_id, amount, occurred_at, "
            "event_id, event_type) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (key, movement, customer_id, order_id, job_id, str(amount.quantize(Decimal("0.01"))), env["time"],
             env["id"], short_type(env)))

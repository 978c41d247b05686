"""The customer file: contact details, products bought, who installed them and with which
consumables, searchable by name, phone or address (workflow 10).

A file merges several aggregates (the customer, their orders, their jobs), whose events
reach this view from different partitions in no fixed order, so nothing here depends on
the order events are applied in; every choice is made by store position:

- A registered customer's contact details come from their own events (``contact_position``
  is the last one's). A customer never registered has the delivery address of the order
  placed last in the store (``address_position``).
- An erasure at store position P erases what events before P gave; details given after it
  (under a new key) stay, whichever arrived first.
- Products are the order's units (``customer_products``) and installation jobs are kept
  apart (``customer_installations``); the file pairs each job with its order's units at
  read time, jobs in the order they were opened (``CustomerFileReads`` below).
"""

from __future__ import annotations

from typing import Any

from contract.names import ERASED
from projections.phones import DEFAULT_REGION, split_query, stored_key
from projections.privacy import PersonalDataView
from streams.sealed import PersonalFields
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json, load_json

_FILE_COLUMNS = "name, phone, address, updated_at, contact_position, address_position"


class CustomerFile(PersonalDataView):
    name = "customer_file"
    categories = ("customers", "orders", "jobs", "privacy")
    tables = ("customer_files", "customer_products", "customer_installations")
    # 2: the language the customer reads (LanguagePreferred); 3: positions, installations apart
    layout = 3

    def __init__(self, personal: PersonalFields | None = None, phone_region: str = DEFAULT_REGION) -> None:
        super().__init__(personal)
        # Phones written without a country code are this region's (SERVICEORDER_PHONE_DEFAULT_REGION).
        self.phone_region = phone_region

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS customer_files (
                customer_id TEXT PRIMARY KEY,
                name TEXT,
                phone TEXT,
                address TEXT,
                search_text TEXT NOT NULL,
                language TEXT,
                updated_at TEXT NOT NULL,
                contact_position BIGINT,
                address_position BIGINT
            )""",
            # One row per product unit bought.
            f"""CREATE TABLE IF NOT EXISTS customer_products (
                product_key TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                order_id TEXT NOT NULL,
                sku TEXT NOT NULL,
                description TEXT NOT NULL,
                purchased_at TEXT NOT NULL,
                consumables {db.json_type} NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS customer_products_by_customer ON customer_products (customer_id)",
            f"""CREATE TABLE IF NOT EXISTS customer_installations (
                job_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                order_id TEXT,
                sku TEXT NOT NULL,
                description TEXT NOT NULL,
                consumables {db.json_type} NOT NULL,
                opened_position BIGINT NOT NULL,
                installed_by TEXT,
                installed_at TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS customer_installations_by_customer ON customer_installations (customer_id)",
        ]

    def _file(self, cur: Cursor, customer_id: str) -> list[Any]:
        row = cur.execute(f"SELECT {_FILE_COLUMNS} FROM customer_files WHERE customer_id = %s",
                          (customer_id,)).fetchone()
        return list(row) if row else [None] * 6

    def _write(self, cur: Cursor, customer_id: str, name: str | None, phone: str | None, address: str | None,
               updated_at: str, contact_position: int | None, address_position: int | None) -> None:
        # The phone's E.164 digits too, so that +86 / 0086 / no country code all find it.
        digits = stored_key(phone, self.phone_region) if phone and phone != ERASED else None
        search = " ".join(x for x in (customer_id, name, phone, digits, address) if x and x != ERASED).lower()
        cur.execute(
            f"INSERT INTO customer_files (customer_id, {_FILE_COLUMNS}, search_text) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (customer_id) DO UPDATE SET "
            "name = EXCLUDED.name, phone = EXCLUDED.phone, address = EXCLUDED.address, "
            "updated_at = EXCLUDED.updated_at, contact_position = EXCLUDED.contact_position, "
            "address_position = EXCLUDED.address_position, search_text = EXCLUDED.search_text",
            (customer_id, name, phone, address, updated_at, contact_position, address_position, search),
        )

    def _contact(self, cur: Cursor, env: dict[str, Any]) -> None:
        d, position = env["data"], int(env["position"])
        name, phone, address, updated_at, contact_position, _ = self._file(cur, d["customer_id"])
        if contact_position is None or contact_position < position:
            name, phone, address, contact_position = d["name"], d["phone"], d["address"], position
        # A registered address is the customer's own: no order's address position applies.
        self._write(cur, d["customer_id"], name, phone, address, max(updated_at or env["time"], env["time"]),
                    contact_position, None)

    def _order_address(self, cur: Cursor, env: dict[str, Any]) -> None:
        d, position = env["data"], int(env["position"])
        name, phone, address, updated_at, contact_position, address_position = self._file(cur, d["customer_id"])
        if contact_position is None and (address_position is None or address_position < position):
            address, address_position = d["delivery_address"], position
        self._write(cur, d["customer_id"], name, phone, address, max(updated_at or env["time"], env["time"]),
                    contact_position, address_position)

    def erase(self, cur: Cursor, customer_id: str, before: int) -> None:
        name, phone, address, updated_at, contact_position, address_position = self._file(cur, customer_id)
        if updated_at is None:
            return
        if contact_position is not None and contact_position < before:
            name, phone, address = ERASED, ERASED, ERASED
        elif address_position is not None and address_position < before:
            address = ERASED
        self._write(cur, customer_id, name, phone, address, updated_at, contact_position, address_position)

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, subject, at = short_type(env), env["data"], env["subject"], env["time"]
        if kind in ("CustomerRegistered", "ContactDetailsUpdated"):
            self._contact(cur, env)
        elif kind == "LanguagePreferred":
            # The customer's other events (an order, a registration seen on another partition)
            # may not have made the row yet: start it, and the contact details join it later.
            cur.execute(
                "INSERT INTO customer_files (customer_id, search_text, language, updated_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (customer_id) DO UPDATE SET language = EXCLUDED.language, "
                "updated_at = CASE WHEN customer_files.updated_at > EXCLUDED.updated_at "
                "THEN customer_files.updated_at ELSE EXCLUDED.updated_at END",
                (d["customer_id"], d["customer_id"].lower(), d["language"], at))
        elif kind == "OrderPlaced":
            self._order_address(cur, env)
            for n, item in enumerate(d["items"]):
                for unit in range(item["quantity"]):
                    cur.execute(
                        "INSERT INTO customer_products (product_key, customer_id, order_id, sku, description, "
                        "purchased_at, consumables) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (f"{subject}:{n}:{unit}", d["customer_id"], subject, item["sku"], item.get("description", ""),
                         at, dump_json(item.get("consumables", []))),
                    )
        elif kind == "JobOpened" and d["kind"] == "installation":
            cur.execute(
                "INSERT INTO customer_installations (job_id, customer_id, order_id, sku, description, consumables, "
                "opened_position, installed_by, installed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, NULL) "
                "ON CONFLICT DO NOTHING",
                (subject, d["customer_id"], d.get("order_id"), d["product"]["sku"], d["product"].get("description", ""),
                 dump_json(d.get("consumables", [])), int(env["position"])),
            )
        elif kind == "JobDispatched":
            cur.execute("UPDATE customer_installations SET installed_by = %s WHERE job_id = %s",
                        (d["engineer"], subject))
        elif kind == "JobCompleted":
            cur.execute("UPDATE customer_installations SET installed_at = %s WHERE job_id = %s", (at, subject))
        elif kind == "SelfInstallationAgreed":
            cur.execute("UPDATE customer_installations SET installed_by = 'customer', installed_at = %s "
                        "WHERE job_id = %s", (at, subject))


class CustomerFileReads:
    """A customer's file (its products paired with their installations), the language they
    read, and the search by name, phone or address."""

    db: Database
    phone_region: str

    def customer_file(self, customer_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT customer_id, name, phone, address, language FROM customer_files "
                              "WHERE customer_id = %s", (customer_id,)).fetchone()
            if row is None:
                return None
            units = cur.execute(
                "SELECT order_id, sku, description, purchased_at, consumables FROM customer_products "
                "WHERE customer_id = %s ORDER BY purchased_at, product_key", (customer_id,)).fetchall()
            jobs = cur.execute(
                "SELECT job_id, order_id, sku, description, consumables, installed_by, installed_at "
                "FROM customer_installations WHERE customer_id = %s ORDER BY opened_position",
                (customer_id,)).fetchall()
        products = [{"order_id": u[0], "sku": u[1], "description": u[2], "purchased_at": u[3],
                     "installation_job_id": None, "installed_by": None, "installed_at": None,
                     "consumables": load_json(u[4])} for u in units]
        for job_id, order_id, sku, description, consumables, installed_by, installed_at in jobs:
            # Each installation job takes the first unit of its SKU on its order not yet taken,
            # in the order the jobs were opened; a job without such a unit is listed alone.
            unit = next((p for p in products if p["sku"] == sku and p["installation_job_id"] is None
                         and p["purchased_at"] is not None and order_id in (None, p["order_id"])), None)
            if unit is None:
                unit = {"order_id": order_id, "sku": sku, "description": description, "purchased_at": None,
                        "consumables": load_json(consumables)}
                products.append(unit)
            unit.update(installation_job_id=job_id, installed_by=installed_by, installed_at=installed_at)
        return {**dict(zip(("customer_id", "name", "phone", "address", "language"), row)), "products": products}

    def customer_language(self, customer_id: str | None) -> str | None:
        """The language recorded for the customer (LanguagePreferred), if any."""
        if customer_id is None:
            return None
        with self.db.read() as cur:
            row = cur.execute("SELECT language FROM customer_files WHERE customer_id = %s", (customer_id,)).fetchone()
        return row[0] if row else None

    def search_customers(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Customers whose id, name, phone or address contains every word of ``query``; a phone
        is found however it is written (projections/phones.py)."""
        words = split_query(query, self.phone_region)[:8]
        sql = "SELECT customer_id, name, phone, address FROM customer_files"
        if words:
            sql += " WHERE " + " AND ".join("search_text LIKE %s ESCAPE '\\'" for _ in words)
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY customer_id LIMIT %s",
                               [*(f"%{_escape_like(w)}%" for w in words), limit]).fetchall()
        return [dict(zip(("customer_id", "name", "phone", "address"), r)) for r in rows]


def _escape_like(word: str) -> str:
    """A search word matches itself only: LIKE's wildcards in it are escaped."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

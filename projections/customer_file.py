"""The customer file: contact details, products bought, who installed them and with which
consumables, searchable by name, phone or address (workflow 10)."""

from __future__ import annotations

from typing import Any

from projections.phones import DEFAULT_REGION, stored_key
from projections.privacy import PersonalDataView
from streams.envelope import short_type
from streams.sqldb import Cursor, Database, dump_json


class CustomerFile(PersonalDataView):
    name = "customer_file"
    categories = ("customers", "orders", "jobs", "privacy")
    tables = ("customer_files", "customer_products")
    layout = 2  # 2: the language the customer reads (LanguagePreferred)
    personal_columns = {"customer_files": {"name": "%s", "phone": "%s", "address": "%s",
                                           "search_text": "LOWER(customer_id)"}}

    def __init__(self, phone_region: str = DEFAULT_REGION) -> None:
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
                updated_at TEXT NOT NULL
            )""",
            # One row per product unit: from the order, then its installation job.
            f"""CREATE TABLE IF NOT EXISTS customer_products (
                product_key TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                order_id TEXT,
                sku TEXT NOT NULL,
                description TEXT NOT NULL,
                purchased_at TEXT,
                installation_job_id TEXT,
                installed_by TEXT,
                installed_at TEXT,
                consumables {db.json_type} NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS customer_products_by_customer ON customer_products (customer_id)",
        ]

    def _touch(self, cur: Cursor, customer_id: str, at: str, **contact: str) -> None:
        row = cur.execute("SELECT name, phone, address FROM customer_files WHERE customer_id = %s",
                          (customer_id,)).fetchone()
        name, phone, address = row if row else (None, None, None)
        name, phone, address = contact.get("name", name), contact.get("phone", phone), contact.get("address", address)
        # The phone's E.164 digits too, so that +86 / 0086 / no country code all find it.
        search = " ".join(x for x in (customer_id, name, phone, stored_key(phone, self.phone_region), address)
                          if x).lower()
        cur.execute(
            "INSERT INTO customer_files (customer_id, name, phone, address, search_text, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name, "
            "phone = EXCLUDED.phone, address = EXCLUDED.address, search_text = EXCLUDED.search_text, "
            "updated_at = EXCLUDED.updated_at",
            (customer_id, name, phone, address, search, at),
        )

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, subject, at = short_type(env), env["data"], env["subject"], env["time"]
        if kind in ("CustomerRegistered", "ContactDetailsUpdated"):
            self._touch(cur, d["customer_id"], at, name=d["name"], phone=d["phone"], address=d["address"])
        elif kind == "LanguagePreferred":
            cur.execute("UPDATE customer_files SET language = %s, updated_at = %s WHERE customer_id = %s",
                        (d["language"], at, d["customer_id"]))
        elif kind == "OrderPlaced":
            self._touch(cur, d["customer_id"], at, **({} if self._known(cur, d["customer_id"]) else
                                                       {"address": d["delivery_address"]}))
            for n, item in enumerate(d["items"]):
                for unit in range(item["quantity"]):
                    cur.execute(
                        "INSERT INTO customer_products (product_key, customer_id, order_id, sku, description, "
                        "purchased_at, installation_job_id, installed_by, installed_at, consumables) "
                        "VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL, NULL, %s) ON CONFLICT DO NOTHING",
                        (f"{subject}:{n}:{unit}", d["customer_id"], subject, item["sku"], item.get("description", ""),
                         at, dump_json(item.get("consumables", []))),
                    )
        elif kind == "JobOpened" and d["kind"] == "installation":
            # The installation job claims the first unit of its SKU on that order not yet claimed.
            row = cur.execute(
                "SELECT product_key FROM customer_products WHERE customer_id = %s AND sku = %s AND "
                "installation_job_id IS NULL AND (order_id = %s OR %s IS NULL) ORDER BY product_key LIMIT 1",
                (d["customer_id"], d["product"]["sku"], d.get("order_id"), d.get("order_id")),
            ).fetchone()
            if row:
                cur.execute("UPDATE customer_products SET installation_job_id = %s WHERE product_key = %s",
                            (subject, row[0]))
            else:
                cur.execute(
                    "INSERT INTO customer_products (product_key, customer_id, order_id, sku, description, "
                    "purchased_at, installation_job_id, installed_by, installed_at, consumables) "
                    "VALUES (%s, %s, %s, %s, %s, NULL, %s, NULL, NULL, %s) ON CONFLICT DO NOTHING",
                    (f"job:{subject}", d["customer_id"], d.get("order_id"), d["product"]["sku"],
                     d["product"].get("description", ""), subject, dump_json(d.get("consumables", []))),
                )
        elif kind == "JobDispatched":
            cur.execute("UPDATE customer_products SET installed_by = %s WHERE installation_job_id = %s",
                        (d["engineer"], subject))
        elif kind == "JobCompleted":
            cur.execute("UPDATE customer_products SET installed_at = %s WHERE installation_job_id = %s",
                        (at, subject))
        elif kind == "SelfInstallationAgreed":
            cur.execute("UPDATE customer_products SET installed_by = 'customer', installed_at = %s "
                        "WHERE installation_job_id = %s", (at, subject))

    @staticmethod
    def _known(cur: Cursor, customer_id: str) -> bool:
        row = cur.execute("SELECT name FROM customer_files WHERE customer_id = %s", (customer_id,)).fetchone()
        return bool(row and row[0])

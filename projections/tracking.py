"""Order tracking: where each order's delivery stands now, and how it got there (the view and
its read, the history newest first).

The history's summaries name the delivery address ("Order placed: ... to <address>"), so
each entry also keeps its summary with the personal fields erased, which replaces it when
the customer's personal data is erased (projections/privacy.py)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from contract.names import DELIVERY_STEPS, PERSONAL_EVENT_FIELDS
from projections.messages import DEFAULT as DEFAULT_LANGUAGE, render
from projections.paging import MAX_POSITION, Keyset, board_page
from projections.privacy import PersonalDataView, erased_data
from projections.summaries import summarize
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json, load_json


class OrderTracking(PersonalDataView):
    name = "order_tracking"
    categories = ("orders", "privacy")
    tables = ("tracking_orders", "tracking_history")
    # 4: the order as GET /orders/{id} shows it (items, address, site, every incident, next
    # steps), so that read loads no aggregate (issue 16)
    layout = 4  # 3: the history keeps its customer and a message with the personal fields erased
    personal_columns = {"tracking_history": {"message": "COALESCE(erased_message, message)"},
                        "tracking_orders": {"delivery_address": "%s", "site_location": "NULL"}}
    position_columns = {"tracking_history": "position", "tracking_orders": "placed_position"}

    def ddl(self, db: Database) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS tracking_orders (
                order_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                tier TEXT NOT NULL,
                status TEXT NOT NULL,
                current_step TEXT,
                driver TEXT,
                latitude DOUBLE PRECISION,
                longitude DOUBLE PRECISION,
                position_updates INTEGER NOT NULL,
                open_incidents {db.json_type} NOT NULL,
                version BIGINT NOT NULL,
                last_position BIGINT NOT NULL,
                placed_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                items {db.json_type} NOT NULL,
                delivery_address TEXT NOT NULL,
                site_location {db.json_type},
                next_steps {db.json_type} NOT NULL,
                incidents {db.json_type} NOT NULL,
                placed_position BIGINT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS tracking_orders_by_customer ON tracking_orders (customer_id)",
            f"""CREATE TABLE IF NOT EXISTS tracking_history (
                order_id TEXT NOT NULL,
                version BIGINT NOT NULL,
                event_type TEXT NOT NULL,
                step TEXT,
                occurred_at TEXT NOT NULL,
                actor TEXT,
                message {db.json_type} NOT NULL,
                customer_id TEXT NOT NULL,
                position BIGINT NOT NULL,
                erased_message {db.json_type},
                PRIMARY KEY (order_id, version)
            )""",
            "CREATE INDEX IF NOT EXISTS tracking_history_by_customer ON tracking_history (customer_id)",
        ]

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, data, order_id = short_type(env), env["data"], env["subject"]
        if kind == "OrderPlaced":
            cur.execute(
                "INSERT INTO tracking_orders (order_id, customer_id, tier, status, current_step, driver, latitude, "
                "longitude, position_updates, open_incidents, version, last_position, placed_at, updated_at, items, "
                "delivery_address, site_location, next_steps, incidents, placed_position) "
                "VALUES (%s, %s, %s, 'placed', NULL, NULL, NULL, NULL, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (order_id) DO NOTHING",
                (order_id, data["customer_id"], data["tier"], dump_json([]), env["aggregateversion"],
                 env["position"], env["time"], env["time"], dump_json(data["items"]), data["delivery_address"],
                 None if data.get("site_location") is None else dump_json(data["site_location"]),
                 dump_json(list(DELIVERY_STEPS[:1])), dump_json([]), env["position"]),
            )
        elif kind == "DeliveryStepRecorded":
            # The most frequent event, written without reading the row first (a read is a
            # round trip; writes travel together, sqlstore.sqldb.Cursor).
            step, position = data["step"], data.get("position") or {}
            status, next_steps = data.get("status"), data.get("next_steps")
            if status is None:  # a v1 event
                status, next_steps = v1_after_step(step)
            cur.execute(
                "UPDATE tracking_orders SET status = %s, current_step = %s, driver = COALESCE(%s, driver), "
                "latitude = COALESCE(%s, latitude), longitude = COALESCE(%s, longitude), "
                "position_updates = position_updates + %s, next_steps = %s, version = %s, last_position = %s, "
                "updated_at = %s WHERE order_id = %s",
                (status, step, data.get("driver") or None, position.get("lat"), position.get("lng"),
                 int(step == "in_transit"), dump_json(next_steps), env["aggregateversion"], env["position"],
                 env["time"], order_id),
            )
        else:
            self._incident_or_cancel(cur, kind, data, env, order_id)
        # Only for a tracked order: a step of an order this view never saw placed (the
        # UPDATE above matched nothing) leaves no history either.
        erased = dump_json(summarize({**env, "data": erased_data(kind, data)})) if kind in PERSONAL_EVENT_FIELDS \
            else None
        cur.execute(
            "INSERT INTO tracking_history (order_id, version, event_type, step, occurred_at, actor, message, "
            "customer_id, position, erased_message) SELECT %s, %s, %s, %s, %s, %s, %s, customer_id, %s, %s "
            "FROM tracking_orders WHERE order_id = %s ON CONFLICT DO NOTHING",
            (order_id, env["aggregateversion"], kind, data.get("step"), env["time"], env.get("actor"),
             dump_json(summarize(env)), env["position"], erased, order_id),
        )

    def _incident_or_cancel(self, cur: Cursor, kind: str, data: dict[str, Any], env: dict[str, Any],
                            order_id: str) -> None:
        row = cur.execute(
            "SELECT status, current_step, driver, open_incidents, incidents, next_steps FROM tracking_orders "
            "WHERE order_id = %s", (order_id,)).fetchone()
        if row is None:
            return
        status, step, driver = row[0], row[1], row[2]
        opened, incidents, next_steps = list(load_json(row[3])), list(load_json(row[4])), load_json(row[5])
        if kind == "IncidentReported":
            opened.append({"incident_id": data["incident_id"], "kind": data["kind"],
                           "description": data["description"]})
            incidents.append({"incident_id": data["incident_id"], "kind": data["kind"],
                              "description": data["description"], "status": "open"})
            status = data.get("status") or "incident_open"
        elif kind == "IncidentResolved":
            opened = [i for i in opened if i["incident_id"] != data["incident_id"]]
            incidents = [{**i, "status": data["resolution"]} if i["incident_id"] == data["incident_id"] else i
                         for i in incidents]
            if data["resolution"] == "redispatched":
                driver = None  # the old assignment is void (docs/events.md)
            if data.get("status") is not None:
                status, step, next_steps = data["status"], data["step"], data["next_steps"]
            else:  # a v1 event
                status, step, next_steps = v1_after_resolution(data["resolution"], step, bool(opened))
        elif kind == "OrderCancelled":
            status, next_steps = "cancelled", []
        cur.execute(
            "UPDATE tracking_orders SET status = %s, current_step = %s, driver = %s, open_incidents = %s, "
            "incidents = %s, next_steps = %s, version = %s, last_position = %s, updated_at = %s WHERE order_id = %s",
            (status, step, driver, dump_json(opened), dump_json(incidents), dump_json(next_steps),
             env["aggregateversion"], env["position"], env["time"], order_id),
        )


# Stored v1 order events do not say the status and next steps they leave (v2 do,
# engine/domain/orders.py); for them alone the view falls back on the delivery rules as
# they stood when v1 was current (docs/events.md).
def v1_after_step(step: str) -> tuple[str, list[str]]:
    if step == "delivered":
        return "delivered", []
    if step == "in_transit":
        return "in_delivery", ["in_transit", "delivered"]
    return "in_delivery", [DELIVERY_STEPS[DELIVERY_STEPS.index(step) + 1]]


def v1_after_resolution(resolution: str, step: str | None, still_open: bool) -> tuple[str, str | None, list[str]]:
    if resolution == "redispatched":
        step = "left_warehouse"
    status = "incident_open" if still_open else "placed" if step is None else "in_delivery"
    return status, step, list(DELIVERY_STEPS[:1]) if step is None else v1_after_step(step)[1]


ORDER_KEYS = ("order_id", "customer_id", "tier", "status", "current_step", "driver", "latitude", "longitude",
              "position_updates", "open_incidents", "version", "last_position", "placed_at", "updated_at")
HISTORY_KEYS = ("version", "event_type", "step", "occurred_at", "actor", "message")
DELIVERY_KEYS = ("order_id", "customer_id", "tier", "status", "current_step", "driver", "open_incidents", "placed_at",
                 "updated_at", "version")


class TrackingReads:
    """An order's tracking, its history newest first and paged back by version; and the orders
    on their way, for the dispatcher."""

    db: Database
    zone: tzinfo  # of the times in summaries
    DELIVERIES = Keyset(("b.updated_at", "b.order_id"))

    def tracking(self, order_id: str, language: str = DEFAULT_LANGUAGE, *, history_limit: int | None = None,
                 history_before: int | None = None) -> dict[str, Any] | None:
        """The order as the customer follows it; ``history`` holds its events before version
        ``history_before`` (all, by default), the newest first, at most ``history_limit``."""
        with self.db.transaction() as cur:
            row = cur.execute(f"SELECT {', '.join(ORDER_KEYS)} FROM tracking_orders WHERE order_id = %s",
                              (order_id,)).fetchone()
            if row is None:
                return None
            history = cur.execute(
                f"SELECT {', '.join(HISTORY_KEYS)} FROM tracking_history WHERE order_id = %s AND version < %s "
                "ORDER BY version DESC LIMIT %s",
                (order_id, MAX_POSITION if history_before is None else history_before,
                 MAX_POSITION if history_limit is None else history_limit)).fetchall()
        order = dict(zip(ORDER_KEYS, row))
        lat, lng = order.pop("latitude"), order.pop("longitude")
        entries = [{**dict(zip(HISTORY_KEYS[:-1], h)), "summary": render(load_json(h[-1]), language, self.zone)}
                   for h in history]
        more = history_limit is not None and len(entries) == history_limit and entries[-1]["version"] > 1
        return {**order, "position": None if lat is None else {"lat": lat, "lng": lng},
                "open_incidents": load_json(order["open_incidents"]), "history": entries,
                "history_next_before": entries[-1]["version"] if more else None}

    def customer_of_order(self, order_id: str) -> str | None:
        """The customer whose order it is, if the view holds it (to scope a customer's reads)."""
        with self.db.read() as cur:
            row = cur.execute("SELECT customer_id FROM tracking_orders WHERE order_id = %s", (order_id,)).fetchone()
        return None if row is None else str(row[0])

    def order(self, order_id: str) -> dict[str, Any] | None:
        """The order as GET /orders/{id} shows it, or None if the view does not hold it."""
        keys = ("order_id", "version", "customer_id", "tier", "items", "delivery_address", "site_location", "status",
                "current_step", "next_steps", "driver", "latitude", "longitude", "position_updates", "incidents",
                "placed_at", "updated_at")
        with self.db.read() as cur:
            row = cur.execute(f"SELECT {', '.join(keys)} FROM tracking_orders WHERE order_id = %s",
                              (order_id,)).fetchone()
        if row is None:
            return None
        order = dict(zip(keys, row))
        lat, lng, modified_at = order.pop("latitude"), order.pop("longitude"), order.pop("updated_at")
        for key in ("items", "site_location", "next_steps", "incidents"):
            order[key] = load_json(order[key])
        order["position"] = None if lat is None else {"lat": lat, "lng": lng}
        return {**order, "version": int(order["version"]), "modified_at": modified_at}

    def deliveries(self, statuses: tuple[str, ...], *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """Orders in these states, the longest unchanged first (the dispatcher's deliveries)."""
        rows, next_cursor = board_page(
            self.db, self.DELIVERIES, DELIVERY_KEYS, "tracking_orders", OrderTracking.name, "b.order_id",
            f"b.status IN ({', '.join(['%s'] * len(statuses))})", statuses, limit, cursor)
        return {"orders": [{**r, "open_incidents": load_json(r["open_incidents"])} for r in rows],
                "next_cursor": next_cursor}

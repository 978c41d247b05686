"""The analytics contract as an AsyncAPI 3.0 document, generated from the code.

Every public category is a channel (``<prefix>.<category>``), every event class of its
aggregate a message: a CloudEvents 1.0 envelope whose ``data`` has a JSON Schema derived
from the event's fields and their type hints, and whose ``dataschema`` names the event's
version. ``docs/asyncapi.json`` is this document; a test fails when it is out of date
(regenerate with ``serviceorder asyncapi --out docs/asyncapi.json``).
"""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from typing import Any, Union

from eventsourcing.domain import Aggregate

from contract.names import CATEGORIES, EVENT_TYPES, PERSONAL_EVENT_FIELDS
from engine.domain.catalogue import PUBLIC_STREAMS
from streams import intake_topics
from streams.envelope import CONTENT_TYPE, schema_uri

_BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_id_type", "originator_topic", "meta"}
# 2.0.0: personal fields are published sealed (SealedPersonalField) instead of in clear.
CONTRACT_VERSION = "2.0.0"


def event_classes(aggregate: type[Aggregate]) -> list[type]:
    """The aggregate's own event classes, in the order they are defined."""
    base = aggregate.Event
    return [v for k, v in vars(aggregate).items()
            if isinstance(v, type) and issubclass(v, base) and v is not base and k == v.__name__
            and v.__qualname__.startswith(aggregate.__name__ + ".") and not k.startswith("_")
            and k not in ("Created",)]


def json_schema(hint: Any) -> dict[str, Any]:
    """JSON Schema of a value as it appears in the envelope's ``data``."""
    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return {}
    if origin in (Union, types.UnionType):
        options = [json_schema(a) for a in typing.get_args(hint) if a is not type(None)]
        nullable = type(None) in typing.get_args(hint)
        schema = options[0] if len(options) == 1 else {"anyOf": options}
        return {"anyOf": [schema, {"type": "null"}]} if nullable else schema
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is datetime:
        return {"type": "string", "format": "date-time"}
    if origin in (list, tuple, set) or hint in (list, tuple, set):
        args = typing.get_args(hint)
        return {"type": "array", **({"items": json_schema(args[0])} if args else {})}
    if origin is dict or hint is dict:
        args = typing.get_args(hint)
        return {"type": "object", **({"additionalProperties": json_schema(args[1])} if args and args[1] is not Any
                                     else {})}
    return {}


def data_fields(event_cls: type) -> dict[str, Any]:
    """The event's own fields and their type hints (what its envelope's ``data`` holds)."""
    return {n: h for n, h in typing.get_type_hints(event_cls).items() if n not in _BASE_FIELDS}


def data_schema(event_cls: type) -> dict[str, Any]:
    # Published events are upcast to the current version first: every field is present.
    properties = {name: json_schema(hint) for name, hint in data_fields(event_cls).items()}
    for name in PERSONAL_EVENT_FIELDS.get(event_cls.__name__, ()):
        properties[name] = sealed_schema(properties[name])
    return {"type": "object", "properties": properties, "required": sorted(properties)}


def sealed_schema(plain: dict[str, Any]) -> dict[str, Any]:
    """A personal field as published: sealed (or null when the event has no value)."""
    nullable = {"type": "null"} in plain.get("anyOf", [])
    sealed = {"$ref": "#/components/schemas/SealedPersonalField"}
    return {"x-sealed": True, "x-plaintext": plain,
            "description": "personal data, sealed under the customer's key: open it with streams.sealed "
                           "(docs/events.md); reads as erased once the customer is erased",
            **({"anyOf": [sealed, {"type": "null"}]} if nullable else sealed)}


SEALED = {
    "type": "object",
    "required": ["_pii_", "k", "n", "c"],
    "description": "AES-256-GCM under the customer's key; associated data: the field's name; the plaintext "
                   "is the field's JSON value (x-plaintext)",
    "properties": {
        "_pii_": {"const": 1},
        "k": {"type": "string", "description": "key id in the service's key store (personal_keys)"},
        "n": {"type": "string", "contentEncoding": "base64", "description": "96-bit nonce"},
        "c": {"type": "string", "contentEncoding": "base64", "description": "ciphertext and tag"},
    },
}


ENVELOPE = {
    "type": "object",
    "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema",
                 "aggregatetype", "aggregateversion", "position", "data"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "format": "uuid",
               "description": "UUIDv5 of (aggregate id, version): the same on every republish; dedupe by it"},
        "source": {"type": "string", "description": "<event source>/<category>"},
        "type": {"type": "string", "description": "serviceorder.<category>.<EventType>"},
        "subject": {"type": "string", "format": "uuid", "description": "the aggregate id (also the record key)"},
        "time": {"type": "string", "format": "date-time", "description": "when the event was stored"},
        "datacontenttype": {"const": "application/json"},
        "dataschema": {"type": "string", "description": "urn:serviceorder:schema:<category>:<EventType>:v<N>"},
        "aggregatetype": {"type": "string"},
        "aggregateversion": {"type": "integer", "minimum": 1,
                             "description": "1, 2, 3... per aggregate, without gaps: order and completeness"},
        "position": {"type": "integer", "minimum": 1, "description": "place in the event store's log"},
        "actor": {"type": "string", "description": "who issued the command"},
        "requestid": {"type": "string"},
        "correlationid": {"type": "string"},
        "causationid": {"type": "string"},
        "reason": {"type": "string", "description": "why, for human decisions"},
        "data": {"type": "object"},
    },
}


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0] if doc else ""


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEvent": ENVELOPE, "SealedPersonalField": SEALED}
    # Names from the contract; the fields of each event from its class in the engine.
    for category, aggregate_type in CATEGORIES.items():
        refs = {}
        for name in EVENT_TYPES[category]:
            event_cls = getattr(PUBLIC_STREAMS[category], name)
            version = getattr(event_cls, "class_version", 1)
            key = f"{category}.{name}"
            schemas[f"{key}.data"] = data_schema(event_cls)
            messages[key] = {
                "name": name,
                "title": f"{aggregate_type}: {name}",
                "contentType": CONTENT_TYPE.split(";")[0],
                "x-event-version": version,
                "payload": {"allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {"type": "object", "properties": {
                        "type": {"const": f"serviceorder.{category}.{name}"},
                        "dataschema": {"const": schema_uri(category, name, version)},
                        "aggregatetype": {"const": aggregate_type},
                        "data": {"$ref": f"#/components/schemas/{key}.data"}}},
                ]},
                "bindings": {"kafka": {"key": {"type": "string", "format": "uuid",
                                               "description": "the aggregate id: per-aggregate order"}}},
            }
            refs[name] = {"$ref": f"#/components/messages/{key}"}
        channels[category] = {
            "address": f"{{prefix}}.{category}",
            "title": f"{aggregate_type} events",
            "description": _first_line(PUBLIC_STREAMS[category].__doc__),
            "parameters": {"prefix": {"default": "serviceorder",
                                      "description": "SERVICEORDER_TOPIC_PREFIX"}},
            "messages": refs,
        }
        operations[f"receive_{category}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{category}"},
            "messages": [{"$ref": f"#/channels/{category}/messages/{n}"} for n in refs],
        }
    intake_channels, intake_operations, intake_messages = intake_topics.channels()
    channels.update(intake_channels)
    operations.update(intake_operations)
    messages.update(intake_messages)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "serviceorder event streams",
            "version": CONTRACT_VERSION,
            "description": (
                "Every event of the service-order engine, published by the relay from the event store "
                "(the transactional outbox): one topic per category, keyed by aggregate id, CloudEvents 1.0 "
                "structured JSON. Delivery is at least once; dedupe by `id`. Per aggregate, "
                "`aggregateversion` counts 1, 2, 3... without gaps. Topics can be rebuilt from the store "
                "(`serviceorder republish`). Personal fields (`x-sealed`) are sealed under their customer's "
                "key, as in the store: entitled consumers open them with `streams.sealed`, and erasing the "
                "customer erases them in every copy. Compatibility policy: docs/events.md. The `intake.*` "
                "channels carry commands in (`serviceorder intake`), their results and dead letters."),
        },
        "defaultContentType": CONTENT_TYPE.split(";")[0],
        "servers": {"kafka": {"host": "localhost:9092", "protocol": "kafka",
                              "description": "KAFKA_BOOTSTRAP_SERVERS (the bundled broker picks a free port)"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(document(), indent=1, sort_keys=False) + "\n"

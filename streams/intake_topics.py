"""The command intake's topics and message shapes: what carriers' and devices' systems write,
what they read back. ``commands/intake.py`` reads and writes them; ``streams/asyncapi.py``
documents them from here.
"""

from __future__ import annotations

from typing import Any

COMMANDS = "commands"
RESULTS = "command-results"
DEAD_LETTERS = "commands.dead-letter"
CONTENT_TYPE = "application/json"

# Headers of a dead letter: the reason and where the message came from.
REASON_HEADER = "dead-letter-reason"
SOURCE_HEADERS = ("source-topic", "source-partition", "source-offset")

COMMAND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "path"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 200,
               "description": "the message's id, unique per sender: the command's idempotency key, so a message "
                              "delivered twice runs once"},
        "path": {"type": "string", "description": "the command's target: the path of its HTTP route "
                                                  "(docs/api.md), e.g. /orders/{order_id}/delivery-steps"},
        "body": {"type": "object", "description": "that route's request body"},
        "expected_version": {"type": ["integer", "null"], "minimum": 0,
                             "description": "refused (412) when the target has moved on"},
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "path", "status"],
    "properties": {
        "id": {"type": "string", "description": "the command message's id"},
        "path": {"type": "string"},
        "status": {"type": "integer", "description": "the status its HTTP route would have answered"},
        "result": {"type": "object", "description": "when it succeeded: the route's answer (id, version, "
                                                    "position, replayed...)"},
        "problem": {"type": "object", "description": "when it was refused: an RFC 9457 problem"},
        "location": {"type": "string"},
        "source": {"type": "object", "description": "partition and offset of the command message",
                   "properties": {"partition": {"type": "integer"}, "offset": {"type": "integer"}}},
    },
}


def channels() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """AsyncAPI channels, operations and messages of the intake."""
    prefix = {"prefix": {"default": "serviceorder", "description": "SERVICEORDER_TOPIC_PREFIX"}}
    key = {"type": "string", "description": "the command's target id: commands on one target keep their order"}
    messages = {
        "intake.Command": {
            "name": "Command", "title": "A command for the engine", "contentType": CONTENT_TYPE,
            "payload": COMMAND_SCHEMA, "bindings": {"kafka": {"key": key}},
        },
        "intake.CommandResult": {
            "name": "CommandResult", "title": "What became of a command", "contentType": CONTENT_TYPE,
            "payload": RESULT_SCHEMA, "bindings": {"kafka": {"key": key}},
        },
        "intake.DeadLetter": {
            "name": "DeadLetter", "title": "A message that is not a command: its bytes as sent",
            "description": f"Headers: `{REASON_HEADER}` (why), " + ", ".join(f"`{h}`" for h in SOURCE_HEADERS)
                           + " (where it was read).",
            "payload": {"description": "the original message value, unchanged"},
        },
    }
    channels = {
        "intake.commands": {
            "address": f"{{prefix}}.{COMMANDS}", "title": "Commands in",
            "description": "Carriers' and devices' systems write commands here; `serviceorder intake` runs each "
                           "exactly once, as the intake token's principal.",
            "parameters": prefix, "messages": {"Command": {"$ref": "#/components/messages/intake.Command"}},
        },
        "intake.results": {
            "address": f"{{prefix}}.{RESULTS}", "title": "Command results",
            "description": "One record per command message (at least once: a redelivered message answers again, "
                           "`replayed: true`, with the same version); dedupe by `id`.",
            "parameters": prefix,
            "messages": {"CommandResult": {"$ref": "#/components/messages/intake.CommandResult"}},
        },
        "intake.dead_letters": {
            "address": f"{{prefix}}.{DEAD_LETTERS}", "title": "Messages that are not commands",
            "parameters": prefix, "messages": {"DeadLetter": {"$ref": "#/components/messages/intake.DeadLetter"}},
        },
    }
    operations = {
        "receive_commands": {"action": "receive", "channel": {"$ref": "#/channels/intake.commands"},
                          "messages": [{"$ref": "#/channels/intake.commands/messages/Command"}]},
        "send_command_results": {"action": "send", "channel": {"$ref": "#/channels/intake.results"},
                                 "messages": [{"$ref": "#/channels/intake.results/messages/CommandResult"}]},
        "send_dead_letters": {"action": "send", "channel": {"$ref": "#/channels/intake.dead_letters"},
                              "messages": [{"$ref": "#/channels/intake.dead_letters/messages/DeadLetter"}]},
    }
    return channels, operations, messages

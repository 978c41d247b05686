"""Turning a command's result into the HTTP response every command shares."""

from __future__ import annotations

from fastapi import Response

from commands.api.schemas import ResultOut
from engine.application.unit_of_work import CommandResult


def command_reply(response: Response, result: CommandResult, location: str | None = None,
                  **also: str) -> ResultOut:
    """The reply of every command: id, version, store position, replayed, and what the
    command adds (``extra``: the ids it opened...)."""
    response.headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if location:
        response.headers["Location"] = location
    return ResultOut(id=str(result.aggregate_id), version=result.version, position=result.position,
                     replayed=result.replayed, positions=result.positions, **result.extra, **also)

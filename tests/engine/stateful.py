"""What every workflow state machine checks: a command succeeds exactly when the model says
it is legal, and a refusal is always a domain error (never a crash)."""

from __future__ import annotations

from typing import Any

from engine.domain.errors import DomainError


class ModelChecked:
    last_result: Any = None

    def attempt(self, legal: bool, command: Any) -> bool:
        try:
            self.last_result = command()
        except DomainError as exc:
            assert not legal, f"legal command refused: {exc}"
            return False
        assert legal, "illegal command accepted"
        return True

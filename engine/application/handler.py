"""What every workflow handler is built from: the unit of work, the deadlines and the
engine's configuration."""

from __future__ import annotations

from engine.application.config import EngineConfig
from engine.application.scheduling import Deadlines
from engine.application.unit_of_work import UnitOfWork


class Handler:
    def __init__(self, uow: UnitOfWork, deadlines: Deadlines, config: EngineConfig) -> None:
        self.uow = uow
        self.deadlines = deadlines
        self.config = config
        self.register_deadline_actions()

    def register_deadline_actions(self) -> None:
        """Handlers whose workflow waits on deadlines name their actions here."""

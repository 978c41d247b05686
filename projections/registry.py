"""Every projection by name: what the CLI and the serve command run and rebuild."""

from __future__ import annotations

from projections.audit import AuditIndex
from projections.base import Projection
from projections.complaints import ComplaintsBoard
from projections.customer_file import CustomerFile
from projections.phones import DEFAULT_REGION
from projections.deadlines import DeadlineIndex
from projections.fieldwork import EngineerAgenda, VisitLog
from projections.followups import FollowUpBoard
from projections.ledger import EngineerLedger
from projections.levels import SlaBoard
from projections.payments import CustomerAccounts
from projections.quality import ServiceQuality
from projections.returns import ReturnsBoard
from projections.timeline import CustomerTimeline
from projections.tracking import OrderTracking
from streams.sealed import PersonalFields

PROJECTIONS: dict[str, type[Projection]] = {
    p.name: p for p in (CustomerTimeline, OrderTracking, EngineerAgenda, VisitLog, CustomerFile, DeadlineIndex,
                    ReturnsBoard, ComplaintsBoard, SlaBoard, EngineerLedger, CustomerAccounts, ServiceQuality,
                    FollowUpBoard, AuditIndex)
}


def build(names: list[str] | None = None, personal: PersonalFields | None = None, *,
          phone_region: str = DEFAULT_REGION) -> list[Projection]:
    """The projections named (all by default); ``personal`` opens sealed personal fields for
    the views that show them; ``phone_region`` is the customer file's default phone region."""
    chosen = list(PROJECTIONS) if names is None else names
    unknown = [n for n in chosen if n not in PROJECTIONS]
    if unknown:
        raise KeyError(f"unknown projection(s): {', '.join(unknown)}; known: {', '.join(PROJECTIONS)}")
    return [CustomerFile(personal, phone_region) if n == CustomerFile.name else PROJECTIONS[n](personal)
            for n in chosen]

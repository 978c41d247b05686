"""An engineer's visit to a field job's site: checking in (verified by distance from the site) and
out, the site's location, and the bounds of a visit's time when a device reports it.

Each function is a command of ``FieldJob`` (assigned there as a method): it checks the rules on the
job's state, then records the event through the aggregate's own event method.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Mapping

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.geo import distance_m
from engine.domain.jobs.rules import DEFAULT_MAX_DEVICE_AGE, DEVICE_CLOCK_SKEW
from engine.domain.values import moment, position

if TYPE_CHECKING:
    from engine.domain.jobs.field_job import FieldJob


def check_in(job: FieldJob, engineer: str, *, location: Mapping[str, Any], accuracy_m: float, received_at: datetime,
             max_distance_m: float, meta: dict[str, str], device_at: datetime | None = None,
             max_device_age: timedelta = DEFAULT_MAX_DEVICE_AGE) -> bool:
    job._refuse_if_closed("check in")
    if job.status != "accepted" or engineer != job.engineer:
        raise RuleViolation(f"only the engineer who accepted the job ({job.engineer or 'nobody yet'}) "
                            "can check in")
    if job.open_visit is not None:
        raise RuleViolation("already checked in: check out first")
    if job.site_location is None:
        raise RuleViolation("the job has no site location to verify a visit against: set it first")
    where = position(location)
    assert where is not None
    if not 0 <= accuracy_m <= 10_000:
        raise InvalidCommand("accuracy_m must be between 0 and 10000")
    at = job.visit_time(device_at, received_at, max_device_age)
    if job.missed_until is not None and at <= job.missed_until:
        raise RuleViolation(f"the window ending {job.missed_until.isoformat()} is recorded as missed: a check-in "
                            "cannot be dated inside it (the breach stands); check in with the current time",
                            rule="visit-time-bounded")
    last_out = max((v["checked_out_at"] for v in job.visits), default=None)
    if last_out is not None and at < last_out:
        raise RuleViolation(f"the last visit ended at {last_out.isoformat()}: a check-in cannot be dated before it",
                            rule="visit-time-bounded")
    distance = round(distance_m(where, job.site_location), 1)
    verified = distance <= max_distance_m and accuracy_m <= max_distance_m
    job._checked_in(engineer=engineer, location=where, accuracy_m=float(accuracy_m), at=at,
                    received_at=received_at, distance_m=distance, verified=verified, meta=meta)
    return verified



def check_out(job: FieldJob, engineer: str, *, received_at: datetime, meta: dict[str, str],
              device_at: datetime | None = None, max_device_age: timedelta = DEFAULT_MAX_DEVICE_AGE) -> None:
    visit = job.open_visit
    if visit is None or visit["engineer"] != engineer:
        raise RuleViolation(f"{engineer} is not checked in on this job")
    at = job.visit_time(device_at, received_at, max_device_age)
    if at < visit["checked_in_at"]:
        raise RuleViolation(f"check-out cannot be before the check-in at {visit['checked_in_at'].isoformat()}",
                            rule="visit-time-bounded")
    minutes = round((at - visit["checked_in_at"]).total_seconds() / 60, 1)
    job._checked_out(engineer=engineer, at=at, received_at=received_at, duration_minutes=minutes, meta=meta)



def visit_time(job: FieldJob, device_at: datetime | None, received_at: datetime, max_age: timedelta) -> datetime:
    """When a check-in or check-out happened: the receive time, or a bounded device time."""
    moment(received_at, "received_at")
    if device_at is None:
        return received_at
    moment(device_at, "at")
    if device_at > received_at + DEVICE_CLOCK_SKEW:
        raise RuleViolation(f"at {device_at.isoformat()} is later than the server received the report "
                            f"({received_at.isoformat()}): a device time is never in the future",
                            rule="visit-time-bounded")
    at = min(device_at, received_at)
    if at < received_at - max_age:
        raise RuleViolation(f"at {device_at.isoformat()} is more than {max_age.total_seconds() / 3600:g} h before "
                            "the report was received: a device time is at most that old",
                            rule="visit-time-bounded")
    if job.dispatched_at is not None and at < job.dispatched_at:
        raise RuleViolation(f"at {device_at.isoformat()} is before the job was dispatched "
                            f"({job.dispatched_at.isoformat()})", rule="visit-time-bounded")
    return at



def set_site_location(job: FieldJob, location: Mapping[str, Any], *, meta: dict[str, str]) -> None:
    job._refuse_if_closed("change the site")
    job._site_located(site_location=position(location), meta=meta)

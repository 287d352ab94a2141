"""Slots: generated from each service's template, `busy` when claimed by a booking."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request

from party_common.bundles import searchset
from party_common.fhir_json import FhirResponse
from party_common.outcome import Issue, invalid, not_found, operation_outcome

from . import resources
from .catalogue import Service, Trust
from .deps import DbDep, SessionDep, SlotFinderDep, TrustDep, trust_base
from .models import SlotClaim
from .schedule import minute_to_iso, stamp_to_minute
from .search_params import count_param, single, time_window

router = APIRouter()

SLOT_STATUSES = ("free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error")


def parse_slot_id(trust: Trust, slot_id: str) -> tuple[Service, int] | None:
    """(service, ordinal) of a slot id of this trust's calendar; None when there is no such slot."""
    service_id, _, stamp = slot_id.rpartition("-")
    service = trust.services.get(service_id)
    minute = stamp_to_minute(stamp)
    if service is None or minute is None:
        return None
    k = service.template.ordinal_of(minute)
    return None if k is None else (service, k)


def _reference_id(value: str, *types: str) -> str:
    for t in types:
        if value.startswith(f"{t}/"):
            return value[len(t) + 1:]
    return value


def _statuses(request: Request) -> tuple[bool, bool]:
    raw = request.query_params.getlist("status")
    if not raw:
        return True, True
    wanted = {code.strip() for value in raw for code in value.split(",")}
    unknown = wanted - set(SLOT_STATUSES)
    if unknown:
        raise invalid(f"status must be one of {', '.join(SLOT_STATUSES)}; got {', '.join(sorted(unknown))}",
                      "status")
    return "free" in wanted, "busy" in wanted


@router.get("/{ods}/Slot")
async def search_slots(trust: TrustDep, request: Request, db: DbDep, finder: SlotFinderDep):
    """Slots of one service (`service` or `schedule`), earliest first; `next` continues after the last."""
    params = request.query_params
    service_param = single(params, "service")
    schedule_param = single(params, "schedule")
    if service_param is None and schedule_param is None:
        raise invalid("Slot search needs service (or schedule): slots are listed per service", "service")
    name = "service" if service_param is not None else "schedule"
    service_id = _reference_id(service_param or schedule_param or "", "HealthcareService", "Schedule")
    free, busy = _statuses(request)
    count = count_param(params, default=10, maximum=100)
    window = time_window(params, "start")
    base = trust_base(request, trust)
    echo = {name: service_param or schedule_param, "status": params.getlist("status") or None,
            "start": params.getlist("start") or None}

    service = trust.services.get(service_id)
    if service is None:
        bundle = searchset([], total=0, base_url=base, path="Slot", params=echo, count=count)
        outcome = operation_outcome([Issue("not-found", f"{trust.ods} has no service {service_id!r}",
                                           [name], severity="warning")])
        bundle["entry"].append({"resource": outcome, "search": {"mode": "outcome"}})
        return FhirResponse(bundle)

    t = service.template
    lo_minute, hi_minute = window.low_minute(), window.high_minute()
    lo = t.first if lo_minute is None else t.ordinal_at_or_after(lo_minute)
    hi = t.stop if hi_minute is None else t.ordinal_at_or_after(hi_minute)
    async with db.engine.connect() as conn:
        found = await finder.find(conn, service, lo, hi, count, free=free, busy=busy)
    slots = [resources.slot(service, k, taken) for k, taken in found]
    bundle = searchset(slots, total=None, base_url=base, path="Slot", params=echo, count=count)
    if count and len(found) == count and found[-1][0] + 1 < t.clamp(hi):
        after = {**echo, "start": [*(echo["start"] or []), f"gt{minute_to_iso(t.start_minute(found[-1][0]))}"],
                 "_count": count}
        query = urlencode({k: v for k, v in after.items() if v is not None}, doseq=True)
        bundle["link"].append({"relation": "next", "url": f"{base}/Slot?{query}"})
    # Returned as a response, not a dict, to skip FastAPI's jsonable_encoder walk on a hot path.
    return FhirResponse(bundle)


@router.get("/{ods}/Slot/{slot_id}")
async def read_slot(trust: TrustDep, slot_id: str, session: SessionDep):
    parsed = parse_slot_id(trust, slot_id)
    if parsed is None:
        raise not_found(f"no Slot/{slot_id} at {trust.ods}")
    service, k = parsed
    claimed = await session.get(SlotClaim, slot_id)
    return FhirResponse(resources.slot(service, k, claimed is not None))

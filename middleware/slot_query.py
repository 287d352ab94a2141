"""A FHIR Slot search of one trust, answered by asking its legacy PAS with `SQM^S25` and turning the
`SQR^S25` it answers into Slots.

The PAS lists free slots from a moment on, at most `QRD-7` of them; a page asks for one more than it
gives, and when there is one the `next` link starts at its minute. The legacy PAS says nothing of how
many there are in QAK-4 (its hit count total from the page's start), so a first page carries it as
`total` and a broker asks each service once. Later pages (they start at a cursor, so the PAS counts
from there) and answers without a QAK-4 carry no `total`. A search for busy slots finds none: the
legacy PAS reports only what is free.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import hl7

from party_common.clock import Clock
from party_common.identifiers import SLOT_STATUSES
from party_common.links.courier import Courier
from party_common.links.outcomes import Delivery
from party_common.outcome import FhirError, Issue, operation_outcome
from party_common.search import SearchQuery, gather, search_bundle
from party_common.trusts import resources
from party_common.trusts.catalogue import Service, Trust
from party_common.trusts.schedule import EPOCH, minute_to_iso

from middleware import v2
from middleware.forwarder import pas_link
from middleware.mllp import exchange
from middleware.searches import SERVICE_TOKEN


def _minute(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds()) // 60


def wanted_service(trust: Trust, q: SearchQuery) -> tuple[Service | None, list[str]]:
    """The service the search names (None when it names one this trust lacks), and the parameters naming it."""
    named: list[str] = []
    for name in (SERVICE_TOKEN, "service", "schedule"):
        for value in q.values(name):
            named.append(name)
            key = value.rpartition("|")[2].rpartition("/")[2]
            found = trust.services.get(key) or trust.by_dos.get(key)
            if found is not None:
                return found, named
    return None, named


def to_slot(trust: Trust, found: v2.FreeSlot) -> dict | None:
    """A free slot as FHIR: from the calendar when the id is the trust's, else from the SQR's timing."""
    parsed = trust.slot(found.slot_id)
    if parsed is not None:
        return resources.slot(parsed[0], parsed[1], False)
    service = trust.services.get(found.service_id)
    if service is None or found.start is None or found.end is None:
        return None
    return {"resourceType": "Slot", "id": found.slot_id, "serviceType": [resources.specialty_concept(service)],
            "schedule": {"reference": f"Schedule/{service.id}"}, "status": "free",
            "start": minute_to_iso(_minute(found.start)), "end": minute_to_iso(_minute(found.end))}


async def ask_pas(courier: Courier, clock: Clock, address: str | None, trust: Trust, service: Service,
                  low: int, high: int, count: int, timeout_s: float) -> Delivery:
    link = pas_link(trust.ods)
    control_id = v2.fresh_control_id()
    er7 = v2.sqm_s25(trust.ods, service.id, low, high, count, control_id, clock.now())

    async def transfer(content: bytes | None = None) -> Delivery:
        if address is None:
            return Delivery(link, "slot-search", "unreachable", None, None, 0.0)
        return await exchange(address, er7, control_id, clock, timeout_s, link=link, event="slot-search",
                              cut=content is not None)

    return await courier.carry(link, "slot-search", None, transfer, method="MLLP", url=f"mllp://{address}")


def _answer(d: Delivery, trust: Trust, what: str) -> hl7.Message:
    """The SQR^S25 the PAS answered; a 503 with Retry-After when it could not be asked."""
    if not d.ok or not isinstance(d.body, dict):
        raise FhirError(503, "transient", f"the legacy PAS of {trust.ods} could not be asked for {what} "
                        f"({d.outcome}); try again", headers={"Retry-After": "1"})
    return d.body["message"]


async def search_slots(q: SearchQuery, trust: Trust, base: str, courier: Courier, clock: Clock,
                       address: str | None, timeout_s: float, held: set[str] = frozenset(),
                       in_flight: str | None = None) -> dict:
    """`held`: the slots of bookings queued here, not offered (the PAS may still list them free).
    `in_flight`: the slot of the booking the worker has sent and had no answer to, which the PAS may
    already hold booked (a slow ACK) or never have seen (a message lost)."""
    service, named = wanted_service(trust, q)
    if service is None:
        what = ", ".join(named) or "no parameter"
        outcome = operation_outcome([Issue("not-found", f"{trust.ods} has no such service: what {what} name",
                                           named or [SERVICE_TOKEN], severity="warning")])
        return search_bundle(q, [], total=0, base=base, path="Slot", outcome=outcome)
    codes = q.codes("status")
    if codes is not None and (unknown := codes - set(SLOT_STATUSES)):
        raise FhirError(400, "invalid", f"status must be among {', '.join(SLOT_STATUSES)}; got "
                        f"{', '.join(sorted(unknown))}", ["status"])
    t = service.template
    window = q.window("start")
    low = max(t.planning_start, window.low_minute() or t.planning_start, q.cursor or 0)
    high = min(t.end_minute(t.stop - 1), window.high_minute() or t.end_minute(t.stop - 1))
    if (codes is not None and "free" not in codes) or low >= high:
        return search_bundle(q, [], total=0, base=base, path="Slot")
    if q.count == 0 and q.cursor:
        return search_bundle(q, [], total=None, base=base, path="Slot")
    # One more than the page holds: whether there is a next page, and where it starts. A count-only
    # search (`_count=0`) asks for one, for its QAK-4.
    # Held slots of this service in the window: asked for beyond the page, left out, not counted.
    held_here = {sid for sid in held if (p := trust.slot(sid)) is not None and p[0] is service
                 and low <= t.start_minute(p[1]) < high and window.holds(t.start_minute(p[1]) * 60_000_000)}
    d = await ask_pas(courier, clock, address, trust, service, low, high, q.count + 1 + len(held_here), timeout_s)
    answer = _answer(d, trust, "slots")
    listed = v2.read_sqr(answer)
    # The PAS counts from the page's start: the search's total on its first page only.
    total = None if q.cursor else v2.read_hits(answer)
    if total is not None and held_here:
        counted = await _held_counted(held_here, in_flight, listed, total, trust,
                                      lambda s, e: ask_pas(courier, clock, address, trust, service, s, e, 1, timeout_s))
        total = max(0, total - counted)
    found = [s for s in (to_slot(trust, f) for f in listed) if s is not None and s["id"] not in held_here]
    found = [s for s in found if window.holds(_micros(s["start"])) and _micros(s["start"]) >= low * 60_000_000]
    found.sort(key=lambda s: (s["start"], s["id"]))
    page, rest = found[:q.count], found[q.count:]
    next_position = _micros(rest[0]["start"]) // 60_000_000 if rest else None
    included = await gather(page, q.includes, _resolver(trust)) if page else []
    return search_bundle(q, page, total=total, base=base, path="Slot", next_position=next_position,
                         included=included)


async def _held_counted(held: set[str], in_flight: str | None, listed: list[v2.FreeSlot], hits: int, trust: Trust,
                        ask: Callable[[int, int], Awaitable[Delivery]]) -> int:
    """How many of the held slots the PAS counted free in its QAK-4 `hits`, so the total leaves out each
    held slot once: those it listed; none it left out where it listed every hit up to the last listed
    slot (booked there: a booking whose ACK is slow is in the PAS's book, and subtracting it again made
    the total one short); one it did not list that is beyond the listing counts when it was never sent
    (the PAS cannot have it), and the one in flight is asked about (an SQM over its minutes)."""
    listed_ids = {f.slot_id for f in listed}
    last = max((_minute(f.start) for f in listed if f.start is not None), default=None)
    complete = len(listed) >= hits
    counted = 0
    for slot_id in held:
        if slot_id in listed_ids:
            counted += 1
            continue
        service, k = trust.slot(slot_id) or (None, 0)
        if service is None:
            continue
        start, end = service.template.start_minute(k), service.template.end_minute(k)
        if complete or (last is not None and start <= last):
            continue   # within what the PAS listed, and not listed: booked there
        if slot_id != in_flight:
            counted += 1
            continue
        answer = _answer(await ask(start, end), trust, f"Slot/{slot_id}")
        counted += any(f.slot_id == slot_id for f in v2.read_sqr(answer))
    return counted


def _micros(iso: str) -> int:
    return int((datetime.fromisoformat(iso.replace("Z", "+00:00")) - EPOCH).total_seconds()) * 1_000_000


def _resolver(trust: Trust):
    async def resolve(kind: str, rid: str) -> dict | None:
        return resources.catalogued(trust, kind, rid)
    return resolve


async def read_slot(trust: Trust, slot_id: str, courier: Courier, clock: Clock, address: str | None,
                    timeout_s: float) -> dict | None:
    """A slot of the trust's calendar, free or busy as the legacy PAS lists it now (asked for the free
    slots of that one slot's minutes); None when the calendar has no such slot."""
    parsed = trust.slot(slot_id)
    if parsed is None:
        return None
    service, k = parsed
    start, end = service.template.start_minute(k), service.template.end_minute(k)
    d = await ask_pas(courier, clock, address, trust, service, start, end, 1, timeout_s)
    free = any(f.slot_id == slot_id for f in v2.read_sqr(_answer(d, trust, f"Slot/{slot_id}")))
    return resources.slot(service, k, not free)

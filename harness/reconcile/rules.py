"""Which disagreement a booking is in: the rules, one booking at a time, and all of them at once.

The broker's ledger is the reference: it is the hub that owes every other party the news of each
booking, so each party is judged on whether it holds what the ledger says it should. Each party
yields at most one discrepancy per booking; a booking can be in several (lost at the trust *and* at
the spine). docs/reconcile.md lists the rules as a table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.traffic import is_contract_booking

from harness.reconcile.kinds import (DUPLICATE_AT_PAS, LIVE, MISSING_AT_BROKER, MISSING_AT_GP, MISSING_AT_PAS, MISSING_AT_SPINE,
                    REFUSED, SLOT_MISMATCH, STATUS_MISMATCH, UNANSWERED)
from harness.reconcile.records import END, PRACTICE, SLOT, START, STATUS, TRUST, PartyRecords, Record, gc_paused


@dataclass(slots=True)
class Discrepancy:
    ubrn: str
    kind: str
    party: str      # the party whose record is at fault (broker for missing_at_broker)
    detail: str


def _different(a: Record, ref: Record) -> str | None:
    """What differs between a party's booking and the ledger's: slot always, times when both give them."""
    if a[SLOT] != ref[SLOT]:
        return f"slot {a[SLOT]} instead of {ref[SLOT]}"
    if a[START] and ref[START] and a[START] != ref[START]:
        return f"start {a[START]} instead of {ref[START]}"
    if a[END] and ref[END] and a[END] != ref[END]:
        return f"end {a[END]} instead of {ref[END]}"
    return None


def _where(rec: Record) -> str:
    return f" {rec[TRUST]}" if rec[TRUST] else ""


def classify(ubrn: str, led: Record | None, pas: list[Record], spine: Record | None,
             gp: Record | None) -> list[Discrepancy]:
    """The discrepancies of one booking, given each party's records of it (ledger first)."""
    out: list[Discrepancy] = []
    if led is None:
        holders = [f"{name} ({rec[STATUS]})" for name, recs in (("pas", pas), ("spine", [spine] if spine else []),
                                                               ("gp", [gp] if gp else [])) for rec in recs]
        if holders:
            out.append(Discrepancy(ubrn, MISSING_AT_BROKER, "broker",
                                   f"held by {', '.join(holders)}; not in the broker's ledger"))
        return out
    status = led[STATUS]
    live = status in LIVE

    # The trust: a live booking must be there exactly once, on the same slot; an ended one not live.
    booked = [r for r in pas if r[STATUS] in LIVE]
    if live:
        if not pas:
            out.append(Discrepancy(ubrn, MISSING_AT_PAS, "pas", f"{status} at the broker, unknown to trust{_where(led)}"))
        elif len(booked) > 1:
            out.append(Discrepancy(ubrn, DUPLICATE_AT_PAS, "pas",
                                   f"trust{_where(booked[0])} holds {len(booked)} booked appointments"))
        elif not booked:
            out.append(Discrepancy(ubrn, STATUS_MISMATCH, "pas",
                                   f"{status} at the broker, {pas[0][STATUS]} at trust{_where(pas[0])}"))
        elif diff := _different(booked[0], led):
            out.append(Discrepancy(ubrn, SLOT_MISMATCH, "pas", f"trust{_where(booked[0])} has {diff}"))
    elif booked:
        out.append(Discrepancy(ubrn, STATUS_MISMATCH, "pas",
                               f"{status} at the broker, booked at trust{_where(booked[0])}"))

    # The spine's booking index: one entry per UBRN, booked while the booking is.
    if live:
        if spine is None:
            out.append(Discrepancy(ubrn, MISSING_AT_SPINE, "spine", f"{status} at the broker, not in the spine's index"))
        elif spine[STATUS] not in LIVE:
            out.append(Discrepancy(ubrn, STATUS_MISMATCH, "spine", f"{status} at the broker, {spine[STATUS]} at the spine"))
        elif diff := _different(spine, led):
            out.append(Discrepancy(ubrn, SLOT_MISMATCH, "spine", f"the spine has {diff}"))
    elif spine is not None and spine[STATUS] in LIVE:
        out.append(Discrepancy(ubrn, STATUS_MISMATCH, "spine", f"{status} at the broker, booked at the spine"))

    # The practice: it must have been told the outcome, whatever it was.
    gp_status = gp[STATUS] if gp is not None else None
    if live:
        if gp is None or gp_status in UNANSWERED:
            out.append(Discrepancy(ubrn, MISSING_AT_GP, "gp", f"{status} at the broker; the practice "
                                   + ("was never told" if gp is None else f"still has it {gp_status}")))
        elif gp_status not in LIVE:
            out.append(Discrepancy(ubrn, STATUS_MISMATCH, "gp", f"{status} at the broker, {gp_status} at the practice"))
        elif diff := _different(gp, led):
            out.append(Discrepancy(ubrn, SLOT_MISMATCH, "gp", f"the practice has {diff}"))
    elif gp_status in LIVE:
        out.append(Discrepancy(ubrn, STATUS_MISMATCH, "gp", f"{status} at the broker, booked at the practice"))
    elif status == REFUSED and (gp is None or gp_status in UNANSWERED):
        out.append(Discrepancy(ubrn, MISSING_AT_GP, "gp", "refused by the trust; the practice "
                               + ("was never told" if gp is None else f"still has it {gp_status}")))
    return out


@dataclass
class Outcome:
    discrepancies: list[Discrepancy]
    checked: int            # bookings (UBRNs) examined
    disagreeing: int        # bookings with at least one discrepancy
    set_aside: int = 0      # the contract suites' bookings, cancelled again (contracts/traffic.py)


def cleaned_up_contract_booking(key: str, records: list[Record]) -> bool:
    """A booking the ledger never had that a contract suite made and cancelled again: not a discrepancy."""
    return (bool(records) and all(r[STATUS] not in LIVE for r in records)
            and is_contract_booking(key, (r[PRACTICE] for r in records)))


def reconcile_records(broker: PartyRecords, pas: PartyRecords, spine: PartyRecords, gp: PartyRecords,
                      scope: Iterable[str] | None = None) -> Outcome:
    """Every booking of the ledger (and every UBRN only another party holds), classified.

    Most bookings agree everywhere; they take a fast path of three look-ups and a few identity
    comparisons (the strings are shared), and only the rest go through `classify`.
    """
    scope_set = set(scope) if scope is not None else None
    found: list[Discrepancy] = []
    led_map, pas_map, pas_extra = broker.first, pas.first, pas.extra
    spine_map, gp_map = spine.first, gp.first
    pas_get, spine_get, gp_get = pas_map.get, spine_map.get, gp_map.get
    checked = disagreeing = 0
    with gc_paused():
        items = led_map.items() if scope_set is None else (
            (u, led_map[u]) for u in scope_set if u in led_map)
        for u, led in items:
            checked += 1
            if led[0] == "booked" and u not in pas_extra:
                slot, start, end = led[1], led[2], led[3]
                p = pas_get(u)
                s = spine_get(u)
                g = gp_get(u)
                if (p is not None and s is not None and g is not None
                        and p[0] == "booked" and s[0] == "booked" and g[0] == "booked"
                        and p[1] == slot and s[1] == slot and g[1] == slot
                        and p[2] == start and s[2] == start and g[2] == start
                        and p[3] == end and s[3] == end and g[3] == end):
                    continue
            more = classify(u, led, pas.get(u), spine_get(u), gp_get(u))
            if more:
                disagreeing += 1
                found += more
        # UBRNs the ledger never had.
        orphans: set[str] = set()
        for records in (pas_map, spine_map, gp_map):
            orphans.update(records.keys() - led_map.keys())
        if scope_set is not None:
            orphans &= scope_set
        set_aside = 0
        for u in sorted(orphans):
            held = [*pas.get(u), *(r for r in (spine_get(u), gp_get(u)) if r is not None)]
            if cleaned_up_contract_booking(u, held):
                set_aside += 1
                continue
            checked += 1
            more = classify(u, None, pas.get(u), spine_get(u), gp_get(u))
            if more:
                disagreeing += 1
                found += more
        _name_slot_holders(found, led_map, pas)
    return Outcome(found, checked, disagreeing, set_aside)


def _name_slot_holders(found: list[Discrepancy], ledger: dict[str, Record], pas: PartyRecords) -> None:
    """A booking the trust never got leaves its slot free there, and the trust may have given it to
    someone else since: say who, since a resend will then be refused. One pass over the trust's
    records, only for the slots in question."""
    wanted = {ledger[d.ubrn][SLOT]: d for d in found if d.kind == MISSING_AT_PAS}
    if not wanted:
        return
    for ubrn, first in pas.first.items():
        for r in (first, *pas.extra.get(ubrn, ())):
            d = wanted.get(r[SLOT])
            if d is not None and r[STATUS] in LIVE and ubrn != d.ubrn:
                d.detail += f"; its slot is now booked at the trust under UBRN {ubrn}"

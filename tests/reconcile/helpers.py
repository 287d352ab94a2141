"""Driving the in-process stack into each kind of disagreement, and reconciling it there."""

from __future__ import annotations

import uuid

from harness.run.error_rates import read_journal
from harness.reconcile import ReconcileJob, run_job
from party_common.booking import BookingFacts, booking_message, practice_org, read_appointment, service_dos, trust_org
from party_common.identifiers import UBRN_SYSTEM, dos_token

FHIR = {"Content-Type": "application/fhir+json"}


async def configure(client, urls, seed: int, rules: list[dict], delivery: str = "fire-and-forget") -> None:
    r = await client.put(f"{urls.broker}/faults", json={"seed": seed, "rules": rules})
    assert r.status_code == 200, r.text
    r = await client.put(f"{urls.broker}/delivery", json={"mode": delivery})
    assert r.status_code == 200, r.text


async def ledger_facts(client, urls, ubrn: str) -> BookingFacts:
    r = await client.get(f"{urls.broker}/Appointment", params={"identifier": f"{UBRN_SYSTEM}|{ubrn}"})
    return read_appointment(r.json()["entry"][0]["resource"])


async def cancel(client, urls, ubrn: str) -> int:
    """The practice asks the broker to cancel a booking (as gp_system's $cancel does)."""
    facts = await ledger_facts(client, urls, ubrn)
    facts.status = "cancelled"
    facts.appointment_id = None
    msg = booking_message("booking-cancel", facts, sender=practice_org(facts.gp_ods), receiver=None,
                          destination=dos_token(service_dos(facts.service_id)),
                          bundle_id=str(uuid.uuid4()), header_id=str(uuid.uuid4()), reason="cancel")
    return (await client.post(f"{urls.broker}/$process-message", json=msg, headers=FHIR)).status_code


async def free_slot(client, urls, service: str, avoid: set[str]) -> dict:
    r = await client.get(f"{urls.broker}/Slot", params={"service": service, "status": "free", "_count": 50})
    return next(e["resource"] for e in r.json()["entry"] if e["resource"]["id"] not in avoid)


async def book_at_trust(client, urls, *, ubrn: str, trust: str, service: str, slot: dict, nhs: str,
                        gp: str = "Y90001") -> int:
    """A booking-request straight to a trust, bypassing the broker."""
    facts = BookingFacts(ubrn=ubrn, nhs_number=nhs, trust_ods=trust, gp_ods=gp, service_id=service,
                         slot_id=slot["id"], start=slot["start"], end=slot["end"], status="booked")
    msg = booking_message("booking-request", facts, sender=practice_org(gp), receiver=trust_org(trust),
                          destination=dos_token(service_dos(service)),
                          bundle_id=str(uuid.uuid4()), header_id=str(uuid.uuid4()))
    r = await client.post(f"{urls.pas}/{trust}/$process-message", json=msg, headers=FHIR)
    return r.status_code


async def reconcile(client, urls, *, journal=True, dedupe=True, repair=False, **kw):
    entries = await read_journal(client, urls.broker) if journal else None
    rec, doc = await run_job(client, ReconcileJob(urls=urls, journal=entries, dedupe=dedupe, repair=repair,
                                                  settle_s=30, **kw))
    return rec, doc, entries


def by_kind(rec) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for d in rec.discrepancies:
        out.setdefault(d.kind, set()).add(d.ubrn)
    return out


def faulted(journal: list[dict], link_prefix: str, decision: str, event: str = "booking-request") -> set[str]:
    return {e["ubrn"] for e in journal if e["link"].startswith(link_prefix) and e["decision"] == decision
            and e["event"] == event and e.get("purpose") != "repair"}

"""Repair by resending: the broker re-delivers its ledger's state of a booking to the party that
lacks it (`POST {broker}/Appointment/{ubrn}/$resend`, target pas|gp|spine). A resend is the very
message first sent (same ids), so a party that already has it answers from its dedupe store and
changes nothing: repair is safe to repeat, and is repeated while the link still loses messages.

A booking the trust refuses because its slot went to another booking since (409) is moved instead
(`POST {broker}/Appointment/{ubrn}/$rebook`): the broker books the service's first free slot from the
same time under the same UBRN and tells the practice and the spine; what of that news is lost shows
as a slot_mismatch at the next round, which a resend mends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from party_common.fhir_json import FHIR_JSON

from harness.reconcile.kinds import (DUPLICATE_AT_PAS, LIVE, MISSING_AT_BROKER, MISSING_AT_GP, MISSING_AT_PAS, MISSING_AT_SPINE,
                    REFUSED, SLOT_MISMATCH, STATUS_MISMATCH)
from harness.reconcile.records import STATUS
from harness.reconcile.report import Reconciliation
from harness.reconcile.rules import Discrepancy
from harness.reconcile.sources import PartyUnreachable

RETRYABLE = {"timeout", "failed", "unreachable", "held"}

CANNOT = {
    DUPLICATE_AT_PAS: "a resend cannot take the extra appointments away: the trust must cancel all but one",
    SLOT_MISMATCH: "the parties hold different slots under one UBRN; resending the broker's booking is "
                   "answered from the party's dedupe store or refused for a taken slot: someone must decide "
                   "which slot is right",
    MISSING_AT_BROKER: "the broker has no ledger entry for this UBRN, so it has nothing to resend; the "
                       "booking reached the party some other way",
}


def repair_target(d: Discrepancy, rec: Reconciliation) -> tuple[str | None, str | None]:
    """(target for $resend, None) when a resend can mend it, else (None, why not)."""
    if d.kind in CANNOT and d.kind != SLOT_MISMATCH:
        return None, CANNOT[d.kind]
    led = rec.sources["broker"].first.get(d.ubrn)
    status = led[STATUS] if led is not None else None
    if status == REFUSED:
        return None, ("the trust refused this booking and the broker resends only bookings it holds; "
                      + ("the practice must be told by hand" if d.party == "gp"
                         else f"the {d.party} must cancel what it holds"))
    if d.kind in (MISSING_AT_PAS, MISSING_AT_SPINE, MISSING_AT_GP):
        return d.party, None
    if d.kind == SLOT_MISMATCH:
        if d.party in ("spine", "gp") and status in LIVE:
            # The ledger is the reference for what the index and the practice hold: a booking the
            # broker moved (a rebook) is told again; any other is answered from their dedupe store.
            return d.party, None
        return None, CANNOT[SLOT_MISMATCH]
    if d.kind == STATUS_MISMATCH:
        if status in LIVE:
            return None, (f"the {d.party} ended a booking the broker holds as {status}; resending the booking "
                          "would be answered from its dedupe store: someone must decide which is right")
        return d.party, None  # the ledger's cancellation never took effect there: send it again
    return None, "no repair known for this kind"


@dataclass
class Resend:
    ubrn: str
    target: str
    tries: int = 0
    delivered: bool = False
    outcome: str | None = None
    refusal: str | None = None
    moved: dict | None = None     # {"from": slot, "to": slot} once the broker moved the booking


@dataclass
class RepairResult:
    before: dict[str, int]
    rounds: list[dict] = field(default_factory=list)
    left: list[dict] = field(default_factory=list)
    resent: int = 0
    rebooked: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"before": self.before, "rounds": self.rounds, "resent": self.resent, "rebooked": self.rebooked,
                "left": self.left}


async def resend(client: httpx.AsyncClient, broker: str, job: Resend, attempts: int) -> Resend:
    """Resends (or, once the trust says the slot is taken, rebooks) until delivered, refused, or
    `attempts` calls are spent."""
    base = f"{broker.rstrip('/')}/Appointment/{job.ubrn}"
    body = {"resourceType": "Parameters", "parameter": [{"name": "target", "valueCode": job.target}]}
    operation = "$resend"
    while job.tries < attempts:
        job.tries += 1
        try:
            r = await client.post(f"{base}/{operation}", json=body if operation == "$resend" else None,
                                  headers={"Content-Type": FHIR_JSON})
        except httpx.HTTPError as exc:
            raise PartyUnreachable("broker", broker, type(exc).__name__) from exc
        try:
            data = r.json()
        except ValueError:
            data = {}
        if r.status_code != 200:
            issue = (data.get("issue") or [{}])[0] if isinstance(data, dict) else {}
            job.refusal = (f"the broker refused the {'rebooking' if operation == '$rebook' else 'resend'} "
                           f"(HTTP {r.status_code}: {issue.get('diagnostics', '')})")
            return job
        params = {p.get("name"): p for p in data.get("parameter") or []}
        job.outcome = (params.get("outcome") or {}).get("valueCode")
        job.delivered = bool((params.get("delivered") or {}).get("valueBoolean"))
        moved_from = (params.get("movedFrom") or {}).get("valueString")
        if moved_from:
            job.moved = {"from": (job.moved or {}).get("from", moved_from),
                         "to": (params.get("slot") or {}).get("valueString")}
        if job.delivered:
            return job
        if job.outcome in RETRYABLE:
            continue
        status = (params.get("status") or {}).get("valueInteger")
        if job.target == "pas" and status == 409 and (operation == "$resend" or moved_from):
            # The trust has given the slot to another booking since (or, after a move, someone took
            # the new one first): the broker moves the booking to the next free slot. A 409 the
            # broker did not take for a taken slot (it moved nothing) is a refusal like any other.
            operation = "$rebook"
            continue
        job.refusal = f"the {job.target} refused the resent message ({job.outcome}, HTTP {status})"
        return job
    return job


async def repair(client: httpx.AsyncClient, broker: str, rec: Reconciliation,
                 reconcile_again: Callable[[], Awaitable[Reconciliation]], *, max_rounds: int = 3,
                 attempts: int = 10, concurrency: int = 16) -> tuple[Reconciliation, RepairResult]:
    """Resends what is missing, reconciles again, and repeats while that mends something.

    Within a round each resend is retried (up to `attempts`) while the link loses it; a round that
    leaves every repairable discrepancy as it was ends the repair.
    """
    result = RepairResult(before=rec.counts())
    limit = asyncio.Semaphore(concurrency)
    last: dict[tuple[str, str], Resend] = {}

    async def one(job: Resend) -> Resend:
        async with limit:
            return await resend(client, broker, job, attempts)

    for round_no in range(1, max_rounds + 1):
        todo: dict[tuple[str, str], Resend] = {}
        for d in rec.discrepancies:
            target, _ = repair_target(d, rec)
            if target and (d.ubrn, target) not in todo:
                todo[(d.ubrn, target)] = Resend(d.ubrn, target)
        if not todo:
            break
        before = {(d.ubrn, d.kind, d.party) for d in rec.discrepancies}
        done = await asyncio.gather(*(one(j) for j in todo.values()))
        last.update({(j.ubrn, j.target): j for j in done})
        result.resent += sum(j.tries for j in done)
        result.rebooked += [{"ubrn": j.ubrn, **j.moved} for j in done if j.moved]
        rec = await reconcile_again()
        result.rounds.append({"round": round_no, "resends": len(done), "tries": sum(j.tries for j in done),
                              "delivered": sum(j.delivered for j in done),
                              "discrepancies_after": len(rec.discrepancies)})
        # A round that mended nothing ends the repair; a booking moved to another slot whose news is
        # still to reach the practice or the spine has changed kind, so another round follows.
        if {(d.ubrn, d.kind, d.party) for d in rec.discrepancies} >= before:
            break
    for d in rec.discrepancies:
        target, why = repair_target(d, rec)
        if target:
            job = last.get((d.ubrn, target))
            if job is None:
                why = "not attempted: no repair rounds left"
            elif job.refusal:
                why = job.refusal
            elif not job.delivered:
                why = f"still lost after {job.tries} resends (last: {job.outcome})"
            else:
                why = f"the {target} accepted the resend but still disagrees: it had already answered this message"
        result.left.append({"ubrn": d.ubrn, "kind": d.kind, "party": d.party, "reason": why})
    return rec, result

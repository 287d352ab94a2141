"""Referrals (BaRS servicerequest-request) between the parties: read from the broker's referral ledger,
each trust's PAS and each practice, joined on the referral id, and each disagreement named.

A party that does not serve `ServiceRequest` searches (a real PAS may not) is read as holding none,
and the reconciliation says so in a note rather than calling every referral lost.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import httpx

from party_common.booking import REFERRAL_SYSTEM
from party_common.referral import REFERRAL_STATE_EXT

from harness.reconcile.kinds import (DUPLICATE_REFERRAL_AT_PAS, REFERRAL_MISSING_AT_BROKER, REFERRAL_MISSING_AT_PAS,
                    REFERRAL_UNANSWERED_AT_GP)
from harness.reconcile.rules import Discrepancy
from harness.reconcile.sources import PartyUnreachable, _next, organizations

PAGE = 500


@dataclass
class ReferralOutcome:
    discrepancies: list[Discrepancy]
    checked: int
    disagreeing: int
    notes: list[str] = field(default_factory=list)


def _id_and_state(sr: dict) -> tuple[str | None, str | None, str | None]:
    rid = next((i.get("value") for i in sr.get("identifier") or [] if i.get("system") == REFERRAL_SYSTEM), None)
    state = next((e.get("valueCode") for e in sr.get("extension") or [] if e.get("url") == REFERRAL_STATE_EXT), None)
    trust = next(((p.get("identifier") or {}).get("value") for p in sr.get("performer") or []
                  if p.get("identifier")), None)
    return rid, state, trust


async def _read(client: httpx.AsyncClient, party: str, base: str, into: dict, notes: list[str]) -> None:
    url: str | None = f"{base.rstrip('/')}/ServiceRequest"
    params: dict | None = {"_count": PAGE}
    first = True
    while url:
        try:
            r = await client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise PartyUnreachable(party, url, type(exc).__name__) from exc
        if first and r.status_code in (404, 405, 501):
            notes.append(f"{party} at {base} serves no ServiceRequest search: its referrals were not read")
            return
        if r.status_code != 200:
            raise PartyUnreachable(party, url, f"GET answered {r.status_code}")
        bundle, first = r.json(), False
        for entry in bundle.get("entry") or []:
            rid, state, trust = _id_and_state(entry.get("resource") or {})
            if rid:
                into[rid].append((state, trust))
        url, params = _next(bundle), None


async def _read_legacy(client: httpx.AsyncClient, base: str, into: dict) -> None:
    """A legacy trust's referrals, from its legacy PAS's flat extract (docs/legacy-pas.md); none when
    nothing listens there (a stack without legacy trusts)."""
    url = f"{base.rstrip('/')}/extract/referrals"
    try:
        r = await client.get(url, params={"format": "json"})
    except httpx.ConnectError:
        return
    except httpx.HTTPError as exc:
        raise PartyUnreachable("legacy PAS", url, type(exc).__name__) from exc
    if r.status_code != 200:
        raise PartyUnreachable("legacy PAS", url, f"GET answered {r.status_code}")
    for row in r.json():
        if isinstance(row, dict) and row.get("referral_id"):
            into[row["referral_id"]].append((row.get("status"), row.get("trust_ods")))


async def reconcile_referrals(client: httpx.AsyncClient, urls) -> ReferralOutcome:
    notes: list[str] = []
    broker: dict = defaultdict(list)
    pas: dict = defaultdict(list)
    gp: dict = defaultdict(list)
    await _read(client, "broker", urls.broker, broker, notes)
    for ods in await organizations(client, "pas", urls.pas):
        await _read(client, "pas", f"{urls.pas.rstrip('/')}/{ods}", pas, notes)
    for ods in await organizations(client, "gp", urls.gp):
        await _read(client, "gp", f"{urls.gp.rstrip('/')}/{ods}", gp, notes)
    if getattr(urls, "legacy_pas", None):
        await _read_legacy(client, urls.legacy_pas, pas)
    found: list[Discrepancy] = []
    disagreeing = 0
    ids = sorted(broker.keys() | pas.keys())
    for rid in ids:
        key = f"referral:{rid}"
        more: list[Discrepancy] = []
        led = broker.get(rid)
        held = pas.get(rid, [])
        if led and led[0][0] != "rejected" and not held:
            more.append(Discrepancy(key, REFERRAL_MISSING_AT_PAS, "pas",
                                    f"routed by the broker ({led[0][0]}) to {led[0][1]}, unknown to the trust"))
        if held and not led:
            more.append(Discrepancy(key, REFERRAL_MISSING_AT_BROKER, "broker",
                                    f"held by trust {held[0][1]}; not in the broker's referral ledger"))
        if len(held) > 1:
            more.append(Discrepancy(key, DUPLICATE_REFERRAL_AT_PAS, "pas",
                                    f"trust {held[0][1]} holds it {len(held)} times"))
        told = gp.get(rid)
        if held and told and told[0][0] != "accepted":
            more.append(Discrepancy(key, REFERRAL_UNANSWERED_AT_GP, "gp",
                                    f"held by trust {held[0][1]}, but the practice's record says {told[0][0]}"))
        if more:
            disagreeing += 1
            found += more
    return ReferralOutcome(found, len(ids), disagreeing, notes)

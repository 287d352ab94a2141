"""The reconciler marked against the journal: did it find every loss the fault engine injected, and
report nothing else?

From the journal alone (the broker's record of every attempt on every link), for each booking the
ledger holds and each party the broker owes news of it to:

- the message *owed* is the one that carries the ledger's current state: the booking-request while
  the ledger says booked, the booking-cancel once cancelled; after a trust's refusal only the
  practice is owed anything (the refusal);
- the message in *effect* at the party is the last one it processed (the delivered attempt with the
  highest sequence number: duplicate copies, releases of held messages and lost acks all count,
  since the receiver did process them), except that a practice keeps a cancellation it was told of
  whatever arrives after it;
- a loss is an owed message that is not in effect: never delivered on any attempt, or overtaken by
  an older message delivered after it (reordering). A party that never processed anything about a
  booking now cancelled holds nothing live, so nothing is lost there;
- a duplicate is an owed booking-request the trust processed more than once while it does not
  deduplicate (a `duplicate-copy`, or a retry after a lost ack).

A legacy trust (docs/legacy-pas.md) is reached in two hops: the broker's message goes to the trust's
middleware (`broker->pas:<ODS>`), which sends it on to the legacy PAS (`middleware->pas:<ODS>`, in
the middleware's journal, joined to the broker's by harness/reconcile/legacy.py). What is owed is
read from the broker's hop, as for any trust; what is in effect at the trust from the middleware's:
the last booking event the legacy PAS accepted. A message the middleware took and never delivered
(lost from its queue in a restart) is a loss at the trust.

Repairs (`purpose: repair`) are left out: they are the cure, not the fault. The reconciler's
findings map onto the same (UBRN, party, class) triples: missing_* and status_mismatch are losses at
their party, duplicate_at_pas a duplicate at the trust; slot_mismatch and missing_at_broker cannot
come from a fault on a link, so they never match and count against precision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from harness.reconcile.kinds import DUPLICATE_AT_PAS, LIVE, MISSING_AT_GP, MISSING_AT_PAS, MISSING_AT_SPINE, REFUSED, STATUS_MISMATCH
from harness.reconcile.rules import Discrepancy

BOOKING_EVENTS = ("booking-request", "booking-cancel")
LOSS = "loss"
DUPLICATE = "duplicate"


# The middleware's names for the booking events it carries on, should it journal v2 trigger events.
_V2_EVENTS = {"SIU^S12": "booking-request", "SIU^S15": "booking-cancel",
              "SIU^S12^SIU_S12": "booking-request", "SIU^S15^SIU_S12": "booking-cancel"}
_TO_LEGACY = "middleware->pas:"


def party_of(link: str) -> str | None:
    if link.startswith(("broker->pas:", _TO_LEGACY)):
        return "pas"
    if link == "broker->spine":
        return "spine"
    if link.startswith("broker->gp:"):
        return "gp"
    return None


def _owed_event(status: str, party: str) -> str | None:
    if status in LIVE:
        return "booking-request"
    if status == REFUSED:
        return "booking-request" if party == "gp" else None
    return "booking-cancel"


def _event(e: dict) -> str | None:
    event = e.get("event")
    return _V2_EVENTS.get(event, event) if isinstance(event, str) else None


def injected(journal: Iterable[dict], ledger: dict[str, str], dedupe: bool = True,
             legacy_trusts: Iterable[str] = ()) -> set[tuple[str, str, str]]:
    """(UBRN, party, loss|duplicate) for every booking in `ledger` (UBRN -> ledger status).

    `legacy_trusts`: the trusts behind the middleware (any the journal shows a `middleware->pas:`
    link to are counted too).
    """
    by_pair: dict[tuple[str, str], list[dict]] = defaultdict(list)
    onward: dict[str, list[dict]] = defaultdict(list)   # the middleware's hops to the legacy PAS, by UBRN
    legacy = set(legacy_trusts)
    for e in journal:
        link = e.get("link") or ""
        if link.startswith(_TO_LEGACY):
            legacy.add(link[len(_TO_LEGACY):])
        ubrn = e.get("ubrn")
        if not ubrn or ubrn not in ledger or e.get("purpose") == "repair" or _event(e) not in BOOKING_EVENTS:
            continue
        if link.startswith(_TO_LEGACY):
            onward[ubrn].append(e)
            continue
        party = party_of(link)
        if party:
            by_pair[(ubrn, party)].append(e)
    truth: set[tuple[str, str, str]] = set()
    for (ubrn, party), entries in by_pair.items():
        owed_event = _owed_event(ledger[ubrn], party)
        if owed_event is None:
            continue
        entries.sort(key=lambda e: e.get("seq", 0))
        if party == "pas" and entries[0]["link"].removeprefix("broker->pas:") in legacy:
            if _lost_behind_middleware(entries, onward.get(ubrn, []), owed_event):
                truth.add((ubrn, party, LOSS))
            continue
        owed = [e for e in entries if e["event"] == owed_event]
        if not owed:
            continue  # never sent: nothing was injected
        owed_id = owed[-1].get("message_id") or owed[-1].get("bundle_id")
        delivered = [e for e in entries if e.get("delivered")]
        if party == "gp" and any(e["event"] == "booking-cancel" for e in delivered):
            if ledger[ubrn] == REFUSED:
                # Cancelled by the practice while its trust refused the booking: the practice holds it
                # cancelled, not live, which is all the refusal asks (rules.py finds nothing there either).
                continue
            # A practice keeps a cancellation: a late word on the original request does not undo it.
            delivered = [e for e in delivered if e["event"] == "booking-cancel"]
        effective = (delivered[-1].get("message_id") or delivered[-1].get("bundle_id")) if delivered else None
        if effective == owed_id:
            times = sum(1 for e in delivered if (e.get("message_id") or e.get("bundle_id")) == owed_id)
            if party == "pas" and owed_event == "booking-request" and not dedupe and times > 1:
                truth.add((ubrn, party, DUPLICATE))
        elif effective is None and owed_event == "booking-cancel":
            continue
        else:
            truth.add((ubrn, party, LOSS))
    return truth


def _lost_behind_middleware(sent: list[dict], onward: list[dict], owed_event: str) -> bool:
    """Whether a legacy trust lacks what it is owed: the broker sent it (`sent`, its hop to the
    middleware) and the last booking event the legacy PAS accepted (`onward`) is not it. The legacy
    PAS answers a resend with its first ACK, so it never holds a booking twice."""
    if not any(e["event"] == owed_event for e in sent):
        return False  # never sent: nothing was injected
    delivered = sorted((e for e in onward if e.get("delivered")), key=lambda e: e.get("seq", 0))
    effective = _event(delivered[-1]) if delivered else None
    if effective is None and owed_event == "booking-cancel":
        return False  # never held, so nothing live to cancel
    return effective != owed_event


_LOSS_KINDS = {MISSING_AT_PAS, MISSING_AT_SPINE, MISSING_AT_GP, STATUS_MISMATCH}


def found(discrepancies: Iterable[Discrepancy]) -> set[tuple[str, str, str]]:
    out = set()
    for d in discrepancies:
        if d.kind in _LOSS_KINDS:
            out.add((d.ubrn, d.party, LOSS))
        elif d.kind == DUPLICATE_AT_PAS:
            out.add((d.ubrn, d.party, DUPLICATE))
        else:
            out.add((d.ubrn, d.party, d.kind))
    return out


def score(found_set: set, truth: set, show: int = 20) -> dict:
    hit = found_set & truth
    return {
        "precision": round(len(hit) / len(found_set), 6) if found_set else 1.0,
        "recall": round(len(hit) / len(truth), 6) if truth else 1.0,
        "injected": len(truth),
        "found": len(found_set),
        "true_positives": len(hit),
        "missed": [list(t) for t in sorted(truth - found_set)[:show]],
        "spurious": [list(t) for t in sorted(found_set - truth)[:show]],
    }


def score_reconciliation(rec, journal: Iterable[dict], dedupe: bool = True, legacy_trusts: Iterable[str] = ()) -> dict:
    """Scores a Reconciliation against journal entries (the middleware's joined), within its scope."""
    ledger = {u: r[0] for u, r in rec.sources["broker"].first.items()
              if rec.scope is None or u in rec.scope}
    return score(found(rec.discrepancies), injected(journal, ledger, dedupe, legacy_trusts))

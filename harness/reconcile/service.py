"""Reconciling a running stack: settle, read every party, classify, and optionally score and repair."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from harness.stack.endpoints import StackUrls

from harness.reconcile.records import PartyRecords
from harness.reconcile.referrals import reconcile_referrals
from harness.reconcile.repair import repair
from harness.reconcile.report import Reconciliation
from harness.reconcile.rules import Outcome, reconcile_records
from harness.reconcile.score import score_reconciliation
from harness.reconcile.sources import read_stack, wait_settled


async def reconcile_stack(client: httpx.AsyncClient, urls: StackUrls, *, scope: Iterable[str] | None = None,
                          attempted: int | None = None, settle_s: float = 30.0,
                          legacy: bool | None = None) -> Reconciliation:
    """`legacy`: whether the stack has a legacy PAS whose extract holds trusts' records (None: read it
    when one answers at `urls.legacy_pas`)."""
    note = await wait_settled(client, urls.broker, settle_s)
    sources = await read_stack(client, urls, legacy)
    scope_set = set(scope) if scope is not None else None
    outcome = reconcile_records(sources["broker"], sources["pas"], sources["spine"], sources["gp"], scope_set)
    referrals = await reconcile_referrals(client, urls) if scope_set is None else None
    found, checked, disagreeing = outcome.discrepancies, outcome.checked, outcome.disagreeing
    notes = ([note] if note else []) + set_aside_notes(outcome)
    if referrals is not None:
        found = found + referrals.discrepancies
        checked += referrals.checked
        disagreeing += referrals.disagreeing
        notes += referrals.notes
    return Reconciliation(sources, found, checked, disagreeing, attempted, scope_set, notes=notes,
                          urls=urls.as_dict())


def set_aside_notes(outcome: Outcome) -> list[str]:
    if not outcome.set_aside:
        return []
    return [f"{outcome.set_aside} booking(s) the contract suites made and cancelled again (marked as "
            "contracts/traffic.py says) left out"]


def reconcile_captured(sources: dict[str, PartyRecords], *, attempted: int | None = None,
                       notes: Iterable[str] = (), urls: dict[str, str] | None = None) -> Reconciliation:
    """The same rules on records read before (a run folder's capture): no party is asked anything."""
    outcome = reconcile_records(sources["broker"], sources["pas"], sources["spine"], sources["gp"])
    return Reconciliation(sources, outcome.discrepancies, outcome.checked, outcome.disagreeing, attempted,
                          notes=[*notes, *set_aside_notes(outcome)], urls=dict(urls or {}))


def judged(rec: Reconciliation, journal: list[dict], dedupe: bool, legacy_trusts: Iterable[str] = ()) -> dict:
    """The score against a journal and its link rates: what a journal adds to a reconciliation's report.
    `journal` may hold the middleware's entries beside the broker's (legacy.joined)."""
    from harness.run.error_rates import link_rates

    return {"score": score_reconciliation(rec, journal, dedupe, legacy_trusts), "links": link_rates(journal)}


@dataclass
class ReconcileJob:
    urls: StackUrls
    scope: set[str] | None = None
    attempted: int | None = None
    settle_s: float = 30.0
    journal: list[dict] | None = None      # scores the reconciliation when given (the middleware's joined)
    legacy: bool | None = None             # the stack has a legacy PAS (None: if one answers)
    legacy_trusts: tuple[str, ...] = ()    # the trusts behind the middleware (for the score)
    dedupe: bool = True                    # whether the receivers deduplicate (for the score)
    repair: bool = False
    max_rounds: int = 3
    attempts: int = 10


async def run_job(client: httpx.AsyncClient, job: ReconcileJob) -> tuple[Reconciliation, dict]:
    """Returns the final reconciliation and its document (what `--json` prints)."""
    rec = await reconcile_stack(client, job.urls, scope=job.scope, attempted=job.attempted, settle_s=job.settle_s,
                                legacy=job.legacy)
    extra: dict = {}
    if job.journal is not None:
        # Scored before any repair: the repair changes the parties, not what was injected.
        extra.update(judged(rec, job.journal, job.dedupe, job.legacy_trusts))
    if job.repair:
        async def again() -> Reconciliation:
            return await reconcile_stack(client, job.urls, scope=job.scope, attempted=job.attempted,
                                         settle_s=job.settle_s, legacy=job.legacy)

        rec, result = await repair(client, job.urls.broker, rec, again, max_rounds=job.max_rounds,
                                   attempts=job.attempts)
        extra["repair"] = result.to_json()
    return rec, {**rec.to_json(), **extra}

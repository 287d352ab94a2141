"""One booking's path through a recorded run: every hop, its fault decision and outcome, each party's view.

A booking's hops are the journal entries that name its UBRN, and those caused by the practice's
messages for it (found by request id: the UBRN is not known when it is being allocated). In a run
with legacy trusts the middleware's journal is read too: its hops to the legacy PAS follow the
broker's, in time order (each journal numbers its own entries), marked `journal: middleware`, and a
booking the middleware lost in a restart names that restart (when, why, what the queue held of it:
middleware-queue.json), which no journal entry records.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from harness.reconcile.legacy import MIDDLEWARE
from harness.run.record import RunFolderError, RunRecord, load_run
from harness.scenario.model import MIDDLEWARE_LINKS
from harness.run.workload import MAX_BOOK_ATTEMPTS, request_id

HOP_FIELDS = ("seq", "elapsed_s", "link", "event", "message_id", "bundle_id", "origin_id", "attempt", "purpose",
              "decision", "rule_id", "outcome", "status", "delivered", "latency_ms", "at")


class TraceError(RunFolderError):
    """No such booking in the run folder."""


def rules_by_id(scenario: dict, party: str = "broker") -> dict[str, dict]:
    """The scenario's fault rules under the ids their party gave them (r1, r2... for those without one):
    the middleware numbers the rules on its links (`middleware->...`), the broker every other."""
    out, auto = {}, 0
    for rule in scenario.get("faults") or []:
        if str(rule.get("link") or "").startswith(MIDDLEWARE_LINKS) != (party == MIDDLEWARE):
            continue
        rule_id = rule.get("id")
        if not rule_id:
            auto += 1
            rule_id = f"r{auto}"
        out[rule_id] = rule
    return out


def _rule_text(rule: dict | None) -> str | None:
    if rule is None:
        return None
    plan = [f"{k}={rule[k]}" for k in ("probability", "nth", "every") if rule.get(k) is not None][:1]
    # When it holds: a window, or an outage's period and duty (the 2006 spine's 70% of every half hour).
    window = rule.get("window")
    if isinstance(window, dict):
        start, end = (f"{v:g}" if isinstance(v, (int, float)) else "" for v in (window.get("from", 0), window.get("to")))
        plan.append(f"window {start}-{end}s")
    params = rule.get("params")
    params = params if isinstance(params, dict) else {}
    plan += [f"{k}={params[k]}" for k in ("period_s", "duty") if params.get(k) is not None]
    return f"{rule.get('action')} on {rule.get('link')} {rule.get('event') or '*'} ({', '.join(plan) or 'always'})"


def instant(at) -> str:
    """A journal's or a restart's time, comparable across both: UTC, no offset (the journal's database
    keeps none)."""
    try:
        t = datetime.fromisoformat(str(at))
    except ValueError:
        return str(at or "")
    return (t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t).isoformat()


def booking_requests(seed: int, id_salt: str, booking: dict | None) -> set[str]:
    """The request ids the practice used for this booking's `$book` attempts."""
    if booking is None or "index" not in booking:
        return set()
    attempts = max(1, min(int(booking.get("attempts") or 1), MAX_BOOK_ATTEMPTS))
    return {request_id(seed, id_salt, booking["index"], a) for a in range(1, attempts + 1)}


class Tracer:
    """Traces the bookings of one run; reads and indexes its files once, since a report traces hundreds."""

    def __init__(self, *, scenario: dict, id_salt: str, journal: list[dict], bookings: list[dict],
                 views: dict[str, dict], discrepancies: list[dict], folder: Path | None = None,
                 restarts: list[dict] | None = None):
        self.folder = folder
        self.seed = scenario.get("seed", 0)
        self.id_salt = id_salt
        self.rules = {"broker": rules_by_id(scenario), MIDDLEWARE: rules_by_id(scenario, MIDDLEWARE)}
        # The middleware's restarts, each with the messages its queue held and lost, by UBRN.
        self.lost_in: dict[str, list[dict]] = defaultdict(list)
        for n, restart in enumerate(restarts or [], 1):
            for item in restart.get("lost") or []:
                if item.get("ubrn"):
                    self.lost_in[item["ubrn"]].append(
                        {"restart": n, "at": restart.get("at"), "reason": restart.get("reason"),
                         "queue": restart.get("queue"), **{k: item.get(k) for k in ("event", "bundle_id",
                                                                                       "control_id")}})
        self.bookings = {b["ubrn"]: b for b in bookings if b.get("ubrn")}
        self.views = views
        self.by_ubrn: dict[str, list[dict]] = defaultdict(list)
        self.by_origin: dict[str, list[dict]] = defaultdict(list)
        for e in journal:
            if e.get("ubrn"):
                self.by_ubrn[e["ubrn"]].append(e)
            for key in {e.get("origin_id"), e.get("bundle_id")}:
                if key is not None:
                    self.by_origin[key].append(e)
        self.discrepancies: dict[str | None, list[dict]] = defaultdict(list)
        for d in discrepancies:
            self.discrepancies[d.get("ubrn")].append(d)

    @classmethod
    def of_record(cls, record: RunRecord) -> "Tracer":
        return cls(scenario=record.scenario, id_salt=record.id_salt,
                   journal=[*record.journal(), *record.middleware_journal()],
                   bookings=record.bookings(), views=record.views(),
                   discrepancies=record.reconciliation().get("discrepancies", []), folder=record.folder,
                   restarts=record.middleware_restarts())

    def hops(self, ubrn: str) -> list[dict]:
        # The practice's request may have gone unanswered (so it has no UBRN on record): the messages
        # that name the UBRN also name the request that caused them.
        booking = self.bookings.get(ubrn)
        named = self.by_ubrn.get(ubrn, [])
        origins = booking_requests(self.seed, self.id_salt, booking) | {e["origin_id"] for e in named if e.get("origin_id")}
        found = {id(e): e for e in named}
        for origin in origins:
            found.update((id(e), e) for e in self.by_origin.get(origin, []))
        by_seq = sorted(found.values(), key=lambda e: e.get("seq") or 0)
        middleware = [e for e in by_seq if e.get("journal")]
        if not middleware:
            return by_seq
        # Two journals, each in its own order, merged by time: the broker's first at the same moment.
        broker = [e for e in by_seq if not e.get("journal")]
        return list(heapq.merge(broker, middleware, key=lambda e: instant(e.get("at"))))

    def trace(self, ubrn: str) -> dict:
        """Everything the run knows of one booking; raises TraceError when it knows nothing."""
        booking = self.bookings.get(ubrn)
        hops = self.hops(ubrn)
        views = self.views.get(ubrn)
        lost = self.lost_in.get(ubrn, [])
        if not hops and views is None and booking is None and not lost:
            raise TraceError(f"no booking with UBRN {ubrn} in {self.folder or 'this run'}")
        return {
            "ubrn": ubrn,
            "folder": str(self.folder) if self.folder else None,
            "booking": booking,
            "hops": [{**{k: e.get(k) for k in HOP_FIELDS},
                      # A rule id is its party's: the middleware numbers its own rules (rules_by_id).
                      "rule": _rule_text(self.rules[e.get("journal") or "broker"].get(e["rule_id"])
                                         if e.get("rule_id") else None),
                      **({"journal": e["journal"]} if e.get("journal") else {})}
                     for e in hops],
            # The middleware's restarts that lost one of its messages (a memory queue's): where its path ends.
            "lost_in_restarts": lost,
            "views": {party: (views or {}).get(party) for party in ("broker", "pas", "spine", "gp")},
            "discrepancies": [{k: d.get(k) for k in ("kind", "party", "detail")}
                              for d in self.discrepancies.get(ubrn, [])],
        }


def trace_booking(folder: Path, ubrn: str) -> dict:
    """Everything the run folder knows of one booking; raises TraceError / RunFolderError (one line)."""
    return Tracer.of_record(load_run(folder)).trace(ubrn)

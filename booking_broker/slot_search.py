"""Choose: slots across every trust that offers the wanted service or specialty, merged earliest first.

A page is found by time, not by row: the next page starts at the start minute of the first slot not
yet given, less the slots of that minute the pages before gave (several services can start a slot
in the same minute). Each trust is asked only for its slots from that minute on, so a page deep in
the calendar costs what the first does (one request a trust) and the `next` link stays one size.
`total` is what the pages before gave plus what each trust counts from that minute on.

A trust that answers without a `total` is walked to the end of its `next` links to count it: right,
but dear on a wide window; a PAS that counts is asked once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from party_common.identifiers import SLOT_STATUSES
from party_common.outcome import FhirError, Issue, invalid, operation_outcome
from party_common.search import SearchQuery, gather, parse_instant
from party_common.search.paging import PAGE

from party_common.links.courier import Courier
from booking_broker.directory import Directory, Service
from party_common.links.outcomes import REJECTED
from booking_broker.slot_targets import Targets, slot_targets
from booking_broker.trust_reads import read_at_trust

PAS_PAGE = 100       # the most slots a PAS is asked for at once (ours serves no more)
MAX_PAS_PAGES = 500  # a PAS whose `next` links run on past this is not followed further
MAX_IDS = 100        # each id of an `_id` search is a read at a trust

_SKIP_BITS, _MINUTE_BITS, _GIVEN_BITS = 12, 27, 24   # 63 bits: one page token


@dataclass(frozen=True)
class Position:
    """Where a page starts: after `given` slots, at epoch minute `minute`, `skip` of whose slots were given."""

    given: int = 0
    minute: int | None = None
    skip: int = 0

    def pack(self) -> int:
        if (self.minute is None or not 0 <= self.minute < 1 << _MINUTE_BITS or self.given >= 1 << _GIVEN_BITS
                or self.skip >= 1 << _SKIP_BITS):
            raise FhirError(400, "too-costly", "the search runs past what one page token can hold "
                            f"({(1 << _GIVEN_BITS) - 1} slots); narrow it with start", ["start"])
        return (self.given << (_MINUTE_BITS + _SKIP_BITS)) | (self.minute << _SKIP_BITS) | self.skip

    @classmethod
    def unpack(cls, value: int | None) -> Position:
        if not value:
            return cls()
        at = cls(value >> (_MINUTE_BITS + _SKIP_BITS), (value >> _SKIP_BITS) & ((1 << _MINUTE_BITS) - 1),
                 value & ((1 << _SKIP_BITS) - 1))
        # The slots of a minute already given are among those given: a token saying otherwise was not ours.
        if at.skip > at.given or not at.given:
            raise invalid(f"{PAGE}: not a page token of this search; follow the `next` link as given", PAGE)
        return at


@dataclass
class SlotPage:
    slots: list[dict]
    total: int
    next_position: int | None
    included: list[dict] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def outcome(self) -> dict | None:
        return operation_outcome(self.warnings) if self.warnings else None


@dataclass
class _TrustAnswer:
    service: Service
    slots: list[dict]
    total: int
    included: dict[tuple[str, str], dict]
    failed: str | None = None
    uncounted: bool = False  # the trust gave no total and its pages ran past MAX_PAS_PAGES: `total` is a floor


@dataclass(frozen=True)
class _Found:
    at: int       # the slot's start, epoch microseconds
    slot: dict
    trust: str

    @property
    def minute(self) -> int:
        return self.at // 60_000_000

    @property
    def order(self) -> tuple[int, str]:
        return self.at, self.slot.get("id") or ""


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, tz=timezone.utc).isoformat()


def _statuses(q: SearchQuery) -> set[str]:
    codes = q.codes("status")
    if codes is None:
        # BaRS asks for free slots to book; the self link says so.
        q.applied.append(("status", "free"))
        return {"free"}
    unknown = codes - set(SLOT_STATUSES)
    if unknown:
        raise invalid(f"status must be among {', '.join(SLOT_STATUSES)}; got {', '.join(sorted(unknown))}",
                      "status")
    return codes


def _page_url(body: dict, base: str, count: int) -> str | None:
    """The trust's `next` link with `_count` set to what is still wanted; None when there is none, or it
    leads away from the trust."""
    url = next((link.get("url") for link in body.get("link") or [] if link.get("relation") == "next"), None)
    if not isinstance(url, str) or not url.startswith(f"{base}/"):
        return None
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "_count"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("_count", str(count))])))


async def _ask(directory: Directory, courier: Courier, svc: Service, params: list[tuple[str, str]], need: int,
               counting: bool = True) -> _TrustAnswer:
    """The first `need` slots of one service that `params` asks its trust for, and how many there are
    (when `counting`; a trust that does not say is walked to its end)."""
    ods = svc.trust_ods
    base = directory.pas_base(ods)
    params = [("service", svc.id), *params, ("_count", str(min(max(need, 1), PAS_PAGE)))]
    if not counting:
        params.append(("_total", "none"))   # spares the trust counting what nobody reads
    url: str | None = f"{base}/Slot"
    slots: list[dict] = []
    included: dict[tuple[str, str], dict] = {}
    total, counted, pages = None, 0, 0
    while url and pages < MAX_PAS_PAGES:
        d = await courier.send(f"broker->pas:{ods}", "slot-search", "GET", url, params=params if pages == 0 else None)
        if d.outcome == REJECTED and isinstance(d.body, dict) and d.body.get("issue"):
            issue = d.body["issue"][0]
            raise FhirError(d.status or 400, issue.get("code", "invalid"),
                            issue.get("diagnostics", f"trust {ods} refused the slot search"), issue.get("expression"))
        if not d.ok or not isinstance(d.body, dict):
            return _TrustAnswer(svc, [], 0, {}, failed=d.outcome)
        if pages == 0 and isinstance(d.body.get("total"), int):
            total = d.body["total"]
        pages += 1
        for entry in d.body.get("entry") or []:
            res = entry.get("resource") or {}
            mode = (entry.get("search") or {}).get("mode")
            kind, rid = res.get("resourceType"), res.get("id")
            if mode == "include" and isinstance(kind, str) and isinstance(rid, str):
                included[(kind, rid)] = res
            elif res.get("resourceType") == "Slot" and mode in (None, "match"):
                counted += 1
                if len(slots) < need:
                    slots.append(res)
        if len(slots) >= need and (total is not None or not counting):
            break
        url = _page_url(d.body, base, PAS_PAGE if total is None else min(max(need - len(slots), 1), PAS_PAGE))
    return _TrustAnswer(svc, slots, counted if total is None else total, included,
                        uncounted=total is None and url is not None)


async def first_free_slot(directory: Directory, courier: Courier, svc: Service, start: str) -> dict | None:
    """The service's first free slot starting at or after `start`: one request to its trust (503 when
    the trust cannot be asked)."""
    slots = await free_slots(directory, courier, svc, start, 1)
    return slots[0] if slots else None


async def free_slots(directory: Directory, courier: Courier, svc: Service, start: str, count: int) -> list[dict]:
    """The service's first `count` free slots starting at or after `start`, earliest first."""
    answer = await _ask(directory, courier, svc, [("status", "free"), ("start", f"ge{start}")], count,
                        counting=False)
    if answer.failed:
        # The trust did not answer: whether the slot is free is unknown, which is not "no free slot".
        raise FhirError(503, "transient", f"trust {svc.trust_ods} could not be asked for the slot at {start} "
                        f"({answer.failed}); try again")
    return answer.slots


class SlotSearch:
    def __init__(self, directory: Directory, courier: Courier, q: SearchQuery, headers: Mapping[str, str]):
        self.directory = directory
        self.courier = courier
        self.q = q
        self.headers = headers

    async def run(self) -> SlotPage:
        q = self.q
        statuses = _statuses(q)
        targets = await slot_targets(self.directory, q, self.headers)
        if q.has("_id"):
            return await self._by_ids(targets, statuses)
        if targets is None:
            targets = Targets(list(self.directory.services.values()))
        warnings = [Issue("not-found", f"no trust offers a service {value[:64]!r}", ["Schedule.actor:HealthcareService"],
                          severity="warning") for value in targets.unknown]
        if not targets.services or not statuses:
            return SlotPage([], 0, None, warnings=warnings)
        at = Position.unpack(q.cursor)
        need = at.skip + q.count
        params = [("status", ",".join(sorted(statuses)))]
        params += [("start", v.replace(" ", "+")) for v in q.values("start")]
        if at.minute is not None:
            params.append(("start", f"ge{_iso(at.minute)}"))
        if q.includes and need:
            params.append(("_include", "Slot:schedule"))
        answers = await self.courier.engine.clock.fan_out(
            *(_ask(self.directory, self.courier, svc, params, need) for svc in targets.services))
        window = q.window("start")
        low = None if at.minute is None else at.minute * 60_000_000
        merged: list[_Found] = []
        for answer in answers:
            if answer.uncounted:
                warnings.append(Issue("too-costly", f"{answer.service.id}: its trust's PAS gives no total and its "
                                      f"pages were walked no further than {MAX_PAS_PAGES}, so `total` counts only "
                                      f"the {answer.total} of its slots seen", severity="warning"))
            if answer.failed:
                warnings.append(Issue("transient", f"the slots of {answer.service.id} are missing: its trust's PAS "
                                      f"could not be searched ({answer.failed})", severity="warning"))
            for slot in answer.slots:
                instant = parse_instant(slot.get("start") or "")
                # What a trust sends outside what was asked is not served (a page could otherwise repeat).
                if instant is None or not window.holds(instant) or (low is not None and instant < low) \
                        or slot.get("status") not in statuses:
                    continue
                merged.append(_Found(instant, slot, answer.service.trust_ods))
        merged.sort(key=lambda f: f.order)
        total = at.given - at.skip + sum(a.total for a in answers)
        page = merged[at.skip:need]
        next_position = None
        if page and at.given + len(page) < total:
            last = page[-1].minute
            skip = sum(1 for f in merged[:need] if f.minute == last)
            next_position = Position(at.given + len(page), last, skip).pack()
        included_by_trust = {key: res for a in answers for key, res in a.included.items()}
        slots = [f.slot for f in page]
        included = await self._includes(slots, {f.slot.get("id"): f.trust for f in page}, included_by_trust)
        return SlotPage(slots, total, next_position, included, warnings)

    async def _includes(self, slots: list[dict], trust_of: dict, given: dict) -> list[dict]:
        if not self.q.includes or not slots:
            return []
        # A Schedule is read from the trust whose slot named it.
        schedule_trust = {(s.get("schedule") or {}).get("reference", "").rpartition("/")[2]: trust_of[s.get("id")]
                          for s in slots}

        async def resolve(kind: str, rid: str) -> dict | None:
            if (kind, rid) in given:
                return given[(kind, rid)]
            if kind == "HealthcareService":
                svc = self.directory.services.get(rid)
                return svc.resource if svc else None
            if kind == "Organization":
                org = self.directory.organizations.get(rid)
                return org[0] if org else None
            if kind == "Schedule" and rid in schedule_trust:
                found = await read_at_trust(self.directory, self.courier, "Schedule", rid, [schedule_trust[rid]])
                return found[0] if found else None
            return None

        return await gather(slots, self.q.includes, resolve)

    async def _by_ids(self, targets: Targets | None, statuses: set[str]) -> SlotPage:
        """The slots `_id` names, read at their trusts, filtered by the other parameters, earliest first."""
        q = self.q
        ids = sorted(q.ids() or ())
        if len(ids) > MAX_IDS:
            raise FhirError(400, "too-costly", f"_id names {len(ids)} slots; at most {MAX_IDS} a search", ["_id"])
        found = await self.courier.engine.clock.fan_out(
            *(read_at_trust(self.directory, self.courier, "Slot", rid) for rid in ids))
        wanted = None if targets is None else {s.id for s in targets.services}
        window = q.window("start")
        matched: list[_Found] = []
        for hit in found:
            if hit is None:
                continue
            slot, ods = hit
            instant = parse_instant(slot.get("start") or "")
            schedule = (slot.get("schedule") or {}).get("reference", "").rpartition("/")[2]
            # Our trusts' Schedule ids are their service ids, one Schedule a service.
            if instant is None or not window.holds(instant) or slot.get("status") not in statuses \
                    or (wanted is not None and schedule not in wanted):
                continue
            matched.append(_Found(instant, slot, ods))
        matched.sort(key=lambda f: f.order)
        # Few enough to page by row: the page token is an offset into them.
        at = q.cursor or 0
        page = matched[at:at + q.count]
        end = at + q.count
        slots = [f.slot for f in page]
        included = await self._includes(slots, {f.slot.get("id"): f.trust for f in page}, {})
        return SlotPage(slots, len(matched), end if q.count and end < len(matched) else None, included)

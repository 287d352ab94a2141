"""Which of a trust's services a Slot search is about.

Slots are listed per service. The search names it by `Schedule.actor:HealthcareService` (the service's
id or DoS id, as BaRS sends it), `service` or `schedule` (all AND-ed; commas OR within one), and
without any of them by the `NHSD-Target-Identifier` header, which BaRS sends with every request to
name the target service. The service taken from the header is added to the search's applied
parameters, so its `self` and `next` links name it and work without the header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from party_common.bars_headers import TARGET_IDENTIFIER, target_identifier
from party_common.booking import service_dos
from party_common.identifiers import DOS_SYSTEM, dos_token
from party_common.outcome import FhirError, invalid
from party_common.search import SearchQuery, Token
from party_common.search.tokens import ANY, NONE

from party_common.trusts.catalogue import Service, Trust
from trust_pas.searches import SERVICE_TOKEN

SERVICE_PARAMS = (SERVICE_TOKEN, "service", "schedule")
_PREFIX = "HealthcareService/"


@dataclass
class SlotTarget:
    service: Service | None  # None: what the search names is no service of this trust
    named_by: list[str]  # the parameters (or header) that named it


def _by_token(trust: Trust, t: Token) -> set[str]:
    by_dos = trust.by_dos
    if t.code is ANY:
        return set(trust.services) if t.system == DOS_SYSTEM else set()
    code = t.code[len(_PREFIX):] if t.code.startswith(_PREFIX) else t.code
    found: set[str] = set()
    if t.system in (ANY, NONE) and code in trust.services:
        found.add(code)
    if t.system in (ANY, DOS_SYSTEM) and code in by_dos:
        found.add(by_dos[code].id)
    return found


def _named(trust: Trust, q: SearchQuery) -> tuple[set[str] | None, list[str]]:
    """The services the parameters allow (None: they name none), and the parameters given."""
    allowed: set[str] | None = None
    named: list[str] = []
    for name in SERVICE_PARAMS:
        if not q.has(name):
            continue
        named.append(name)
        if name == SERVICE_TOKEN:
            occurrences = [set().union(*(_by_token(trust, t) for t in alts)) for alts in q.tokens(name)]
        else:
            occurrences = [ids & trust.services.keys() for ids in q.references(name)]
        for ids in occurrences:
            allowed = ids if allowed is None else allowed & ids
    return allowed, named


def _from_header(trust: Trust, q: SearchQuery, headers: Mapping[str, str]) -> SlotTarget | None:
    target = target_identifier(headers)
    if target is None:
        return None
    system, value = target
    found = _by_token(trust, Token(system or ANY, value))
    service = trust.services[found.pop()] if len(found) == 1 else None
    if service is not None:
        q.applied.append((SERVICE_TOKEN, dos_token(service_dos(service.id))))
    return SlotTarget(service, [TARGET_IDENTIFIER])


def slot_target(trust: Trust, q: SearchQuery, headers: Mapping[str, str]) -> SlotTarget:
    allowed, named = _named(trust, q)
    if allowed is None:
        target = _from_header(trust, q, headers)
        if target is None:
            raise invalid(f"a Slot search names its service: {SERVICE_TOKEN} (its id or DoS id), service or "
                          f"schedule, or the {TARGET_IDENTIFIER} header", SERVICE_TOKEN)
        return target
    if len(allowed) > 1:
        raise FhirError(400, "not-supported", f"a Slot search is for one service; {', '.join(named)} name "
                        f"{len(allowed)} ({', '.join(sorted(allowed)[:5])})", named)
    return SlotTarget(trust.services[allowed.pop()] if allowed else None, named)


def named_services(trust: Trust, q: SearchQuery) -> set[str] | None:
    """The services the parameters allow, for a search by `_id` (None: no service parameter given)."""
    return _named(trust, q)[0]

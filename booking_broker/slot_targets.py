"""Which services a Slot search at the broker is about.

The search names them by `Schedule.actor:HealthcareService` (a DoS id or our service id, as BaRS
sends it), `service` (our id) and `specialty`, all AND-ed, commas OR-ing within one; without a
service parameter, by the `NHSD-Target-Identifier` header BaRS sends with each request. The service
the header names is added to the applied parameters, so the `self` and `next` links name it and
work without the header. A search that names no service at all is about every service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from party_common import bars_headers
from party_common.identifiers import DOS_SYSTEM, SPECIALTY_SYSTEM, canonical_system
from party_common.search import SearchQuery, Token
from party_common.search.tokens import ANY, NONE, reference_id, split_values

from booking_broker.directory import Directory, Service
from booking_broker.trust_reads import is_fhir_id

BY_SERVICE = ("Schedule.actor:HealthcareService", "service")


@dataclass
class Targets:
    services: list[Service]
    unknown: list[str] = field(default_factory=list)  # values that name no service the broker knows


async def _named(directory: Directory, raw: str, name: str) -> Service | None:
    if name == "service":
        system, value = None, reference_id(raw, "HealthcareService")
    else:
        token = Token.parse(raw, name)
        if token.code is ANY or token.system == NONE:
            return None
        system = token.system
        value = token.code.removeprefix("HealthcareService/") if system is ANY else token.code
    # A value that cannot be an id is not worth reading every trust's directory again for.
    if not is_fhir_id(value):
        return None
    if name == "service":
        return await directory.service(value)
    if system is ANY:
        return await directory.named(value)
    return await directory.service_by_dos(value) if system == canonical_system(DOS_SYSTEM) else None


async def slot_targets(directory: Directory, q: SearchQuery, headers: Mapping[str, str]) -> Targets | None:
    """The services whose slots are wanted; None when the search names none (so: all of them)."""
    await directory.ensure_loaded()
    if not any(q.has(n) for n in BY_SERVICE):
        header = bars_headers.target_identifier(headers)
        if header is not None:
            system, value = header
            q.applied.append((BY_SERVICE[0], f"{system}|{value}" if system else value))
    constraints: list[set[str]] = []
    unknown: list[str] = []
    for name in BY_SERVICE:
        for raw in q.values(name):
            ids = set()
            for value in split_values(raw):
                svc = await _named(directory, value, name)
                if svc is None:
                    unknown.append(value)
                else:
                    ids.add(svc.id)
            constraints.append(ids)
    for alternatives in q.tokens("specialty"):
        constraints.append({s.id for s in directory.services.values()
                            if any(t.matches(SPECIALTY_SYSTEM, s.specialty) for t in alternatives)})
    if not constraints:
        return None
    wanted = set.intersection(*constraints)
    return Targets([s for s in directory.services.values() if s.id in wanted], unknown)

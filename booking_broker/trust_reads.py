"""Reading one resource a trust holds (a Slot, a Schedule), so every Slot and Schedule the broker puts
in a searchset can be read at the broker too, and a Slot's `schedule` reference resolves against it.

The trust is the one the id names when it is ours (a slot id starts with its service id, a Schedule id
is its service id); otherwise every trust is asked, and the first that has it answers.
"""

from __future__ import annotations

import re
from typing import Any

from party_common.outcome import FhirError, not_found

from party_common.links.courier import Courier
from booking_broker.directory import Directory
from party_common.links.outcomes import REJECTED

# A FHIR id; anything else names no resource, and is not put in a URL to a trust.
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


# For a read route's OpenAPI document: a trust that could not be asked is a 503, not a 404.
UNANSWERED: dict[int | str, dict[str, Any]] = {503: {"description": "The PAS of a trust that may hold the resource could not be read; ask again"}}


def is_fhir_id(rid: str) -> bool:
    # '.' and '..' are FHIR ids in form only; in a URL they would climb out of the trust's base.
    return bool(_FHIR_ID.match(rid)) and set(rid) != {"."}


def _candidates(directory: Directory, kind: str, rid: str) -> list[str]:
    owner = directory.services.get(rid) if kind == "Schedule" else directory.slot_owner(rid)
    return [owner.trust_ods] if owner is not None else list(directory.trusts)


async def read_at_trust(directory: Directory, courier: Courier, kind: str, rid: str,
                        trusts: list[str] | None = None) -> tuple[dict, str] | None:
    """(resource, trust ODS) of `kind/rid` as the trust holding it answers; None when none has it.

    A trust that cannot be read (down, timing out) is a 503 when no other trust had the resource:
    whether it exists is then unknown, which is not a 404.
    """
    if not is_fhir_id(rid):
        return None
    await directory.ensure_loaded()
    asked = trusts if trusts is not None else _candidates(directory, kind, rid)

    async def one(ods: str):
        return ods, await courier.send(f"broker->pas:{ods}", f"{kind.lower()}-read", "GET",
                                       f"{directory.pas_base(ods)}/{kind}/{rid}")

    unreadable = []
    for ods, d in await courier.engine.clock.fan_out(*(one(ods) for ods in asked)):
        body = d.body if isinstance(d.body, dict) else {}
        if d.ok and body.get("resourceType") == kind and body.get("id") == rid:
            return body, ods
        if not d.ok and d.outcome != REJECTED:
            unreadable.append(f"{ods} ({d.outcome})")
    if unreadable:
        raise FhirError(503, "transient", f"{kind}/{rid} could not be looked up: the PAS of "
                        f"{', '.join(unreadable)} did not answer")
    return None


async def read_or_404(directory: Directory, courier: Courier, kind: str, rid: str) -> dict:
    found = await read_at_trust(directory, courier, kind, rid)
    if found is None:
        raise not_found(f"no trust holds {kind}/{rid}")
    return found[0]

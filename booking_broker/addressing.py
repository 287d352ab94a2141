"""Who a message is from and what it is for, as the broker (the BaRS proxy) works them out.

The sending practice: `NHSD-End-User-Organisation`, else the sender Organization's ODS code, else the
source endpoint's DoS id; it must be a practice the broker can answer. The target service:
`NHSD-Target-Identifier`, else `MessageHeader.destination` (DoS ids), else the HealthcareService the
message names. Each refusal names the header or element of the sender's message at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from party_common import bars_headers
from party_common.identifiers import DOS_SYSTEM, ODS_SYSTEM
from party_common.messaging import Message
from party_common.outcome import FhirError

from booking_broker.directory import Directory, Service

HEADER = "Bundle.entry[0].resource"
_ODS = re.compile(r"^[A-Za-z0-9]{3,10}$")


async def sender_practice(directory: Directory, msg: Message, headers: Mapping[str, str]) -> str:
    """The practice the booking comes from (NHSD-End-User-Organisation, else the sender
    Organization's ODS code, else the source endpoint's DoS id), if the broker can confirm to it."""
    ods = bars_headers.end_user_ods(headers)
    where = bars_headers.END_USER_ORGANISATION
    if ods is None:
        ods, where = msg.sender_ods, f"{HEADER}.sender"
    if ods is None:
        source = msg.source
        where = f"{HEADER}.source.endpoint"
        if source and source[0] == DOS_SYSTEM:
            ods = await directory.practice_by_dos(source[1])
            if ods is None:
                raise FhirError(422, "not-found", f"no practice has DoS id {source[1][:40]!r}: the broker "
                                "could not confirm the booking to its sender", [where],
                                bars_code="REC_UNPROCESSABLE_ENTITY")
    if ods is None:
        raise FhirError(422, "required", "the sending practice must be named: NHSD-End-User-Organisation, "
                        f"an ODS code ({ODS_SYSTEM}) on the sender Organization, or a DoS id as "
                        "source.endpoint", [f"{HEADER}.sender"], bars_code="REC_UNPROCESSABLE_ENTITY")
    if not _ODS.match(ods):
        raise FhirError(422, "value", f"{ods[:20]!r} is not an ODS code", [where],
                        bars_code="REC_UNPROCESSABLE_ENTITY")
    known = await directory.practice_ods(ods)
    if known is None:
        raise FhirError(422, "not-found", f"practice {ods} is unknown to the broker, which could not confirm "
                        "the booking to it", [where], bars_code="REC_UNPROCESSABLE_ENTITY")
    return known

async def target_service(directory: Directory, msg: Message, headers: Mapping[str, str],
                         keys: tuple[tuple[str | None, str], ...], keys_where: str) -> Service:
    """The service booked: named by NHSD-Target-Identifier or MessageHeader.destination (a DoS id),
    else by the HealthcareService the message itself names (`keys`, found at `keys_where`)."""
    named: list[tuple[tuple[str | None, str], str]] = []
    target = bars_headers.target_identifier(headers)
    if target:
        named.append((target, bars_headers.TARGET_IDENTIFIER))
    if msg.destination:
        named.append((msg.destination, f"{HEADER}.destination[0].endpoint"))
    named += [(key, keys_where) for key in keys]
    for (system, value), _ in named:
        if system == DOS_SYSTEM:
            svc = await directory.service_by_dos(value)
        elif system is None:
            svc = await directory.service(value)
        else:
            svc = None  # another directory's identifier: not one the broker can look up
        if svc is not None:
            return svc
    where = named[0][1] if named else f"{HEADER}.destination"
    what = ", ".join(v[:40] for (_, v), _ in named[:3]) or "none"
    if directory.unread:
        # Not heard from every trust: the service may be one of theirs. Transient, not a refusal.
        raise FhirError(503, "transient", f"the service this booking names ({what}) is not known to the broker "
                        f"and trust(s) {', '.join(sorted(directory.unread))} could not be asked what they offer; "
                        "try again", [where])
    raise FhirError(422, "not-found", f"no trust offers the service this booking names ({what})", [where],
                    bars_code="REC_UNPROCESSABLE_ENTITY")

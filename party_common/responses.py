"""The response message to a request (`*-response`), for a booking or a referral alike.

Apart from booking.py and referral.py, which it builds on both: a referral is built on a booking's
parts (its patient, service and organisations), so the answer that may carry either sits above them.
"""

from __future__ import annotations

import uuid

from party_common.booking import booking_entries, practice_org, read_appointment, trust_org
from party_common.messaging import RESPONSE_CODES, Message, MessageBuilder, Org
from party_common.referral import read_service_request, referral_entries


def response_bundle(request: Message, code: str, resources: list[dict], *, responder: Org | None = None,
                    event: str | None = None, bundle_id: str | None = None) -> dict:
    """The response message to `request`: MessageHeader.response.identifier is the request Bundle.id.

    Roles reverse: the request's receiver (or `responder`) sends, its sender receives, and the answer
    goes to the endpoint the request came from. A booking (or referral) answer carries it as entries.
    """
    if code not in RESPONSE_CODES:
        raise ValueError(code)
    b = MessageBuilder(bundle_id or str(uuid.uuid5(_RESPONSE_NS, f"{request.bundle_id}|{code}")))
    me = responder or request.receiver or Org(None, None, "nhs-interop-testbed")
    them = request.sender    # None: a request that named no sender gets an answer addressed to no one
    focus = []
    kind = resources[0].get("resourceType") if resources else None
    if kind == "Appointment":
        facts = read_appointment(resources[0])
        focus.append(booking_entries(b, facts, practice=practice_org(facts.gp_ods),
                                     trust=trust_org(facts.trust_ods)))
        resources = resources[1:]
    elif kind == "ServiceRequest":
        focus.append(referral_entries(b, read_service_request(resources[0])))
        resources = resources[1:]
    for i, res in enumerate(resources):
        focus.append(b.add(f"resource:{i}", res))
    sender_url, receiver_url = b.org(me), (b.org(them) if them else None)
    source = request.header.get("source") or {}
    destination = source.get("endpoint") or (them.endpoint if them else f"urn:uuid:{request.bundle_id}")
    return b.build(event or request.event, sender=sender_url, receiver=receiver_url,
                   destination=destination, focus=focus, source=me, reason=None,
                   response={"identifier": request.bundle_id, "code": code})


_RESPONSE_NS = uuid.UUID("a9c7d0e4-5b1f-4f0e-8d4e-0f6c2b7d9a13")

"""The failure paths every `$process-message` inbox shares, registered once per provider.

Each provider gives where its inbox is and how to make one valid message for it; the checks then
break that message in one way each and hold the answer to the error taxonomy (rules/errors.yaml).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import orjson

from .. import expect
from ..data import rules_file
from ..messages import invalid_bundle, with_event
from ..checks import Target, check
from .http import get, post_message, post_raw

InboxPath = Callable[[Target], str]
SampleMessage = Callable[[Target], Awaitable[dict]]


def register(provider: str, inbox: InboxPath, sample: SampleMessage, *, metadata: InboxPath = lambda t: "metadata",
             operations: tuple[str, ...] = ()) -> None:
    offered = ", ".join(("$process-message", *(f"${op}" for op in operations)))

    @check(provider, "capability", f"GET [base]/metadata is a CapabilityStatement offering {offered}")
    async def capability(t: Target) -> None:
        body = expect.status(await get(t, metadata(t)), 200, "metadata")
        expect.conforms(body, "capability-process-message", "metadata")
        ops = {o.get("name") for o in (body.get("rest") or [{}])[0].get("operation") or []}
        missing = [op for op in operations if op not in ops]
        expect.that(not missing, f"metadata offers {sorted(ops)}, not {', '.join(missing)}")

    @check(provider, "headers-mirrored", "X-Correlation-Id and X-Request-Id come back as sent, on answers "
           "and on errors (BaRS)")
    async def headers_mirrored(t: Target) -> None:
        for what, send in (("metadata", lambda h: t.client.get(t.url(metadata(t)), headers=h)),
                           ("an error answer", lambda h: t.client.post(
                               t.url(inbox(t)), content=orjson.dumps(invalid_bundle()),
                               headers={**h, "Content-Type": expect.FHIR_JSON}))):
            sent = {name: str(uuid.uuid4()) for name in rules_file("headers")["mirrored"]}
            r = await send(sent)
            for name, value in sent.items():
                got = r.headers.get(name)
                expect.that(got == value, f"{what}: {name} came back as {got!r}, sent {value}")

    @check(provider, "invalid-bundle", "a Bundle that is not valid FHIR R4 gets 400 naming the element at fault")
    async def invalid(t: Target) -> None:
        expect.outcome(await post_message(t, inbox(t), invalid_bundle()), "invalid", "invalid Bundle")

    @check(provider, "not-a-message", "a Bundle whose type is not `message` gets 400 naming Bundle.type")
    async def not_a_message(t: Target) -> None:
        message = {**await sample(t), "type": "collection"}
        body = expect.outcome(await post_message(t, inbox(t), message), "invalid", "collection Bundle")
        expect.that("Bundle.type" in body["issue"][0]["expression"],
                    f"expression {body['issue'][0]['expression']} does not name Bundle.type")

    @check(provider, "not-json", "a body that is not JSON gets 400 with an OperationOutcome")
    async def not_json(t: Target) -> None:
        expect.outcome(await post_raw(t, inbox(t), b"{not json", expect.FHIR_JSON), "not-json", "non-JSON body")

    @check(provider, "unsupported-content-type", "a message sent as text/plain gets 415")
    async def unsupported_type(t: Target) -> None:
        r = await post_message(t, inbox(t), await sample(t), content_type="text/plain")
        expect.outcome(r, "unsupported-media-type", "text/plain message")

    @check(provider, "unknown-event", "an event code the receiver does not handle gets 422 naming eventCoding.code")
    async def unknown_event(t: Target) -> None:
        message = with_event(await sample(t), "booking-frobnicate")
        body = expect.outcome(await post_message(t, inbox(t), message), "unprocessable", "unknown event")
        expect.that(any("eventCoding" in e for e in body["issue"][0]["expression"]),
                    f"expression {body['issue'][0]['expression']} does not name the eventCoding")

"""The broker's `$process-message` inbox for GP systems: the `gp:<ODS>->broker` links."""

from __future__ import annotations

from fastapi import APIRouter, Request

from party_common.clock_routes import ClockDep
from party_common.fhir_json import FhirResponse, parse_body, read_message_body
from party_common.outcome import FhirError, Issue, operation_outcome

from booking_broker.dependencies import CourierDep, FlowDep
from party_common.links.outcomes import TIMEOUT, Delivery, outcome_for_status

router = APIRouter()
# A 503's answer travels as a Delivery, not a FhirError: its Retry-After is put back here.
RETRY_SOON = {"Retry-After": "1"}


@router.post("/$process-message")
async def process_message(request: Request, flow: FlowDep, courier: CourierDep, clock: ClockDep):
    msg = await read_message_body(request)
    data = msg.bundle
    link = f"gp:{msg.sender_ods or 'unknown'}->broker"

    async def transfer(content: bytes | None = None) -> Delivery:
        started = clock.monotonic()
        try:
            if content is not None:
                # Corrupted in transit: the broker sees what arrived, and refuses it as it would.
                await parse_body(request, content, "Bundle")
            status, body = await flow.process(msg, request.headers)
        except FhirError as exc:
            status, body = exc.status, exc.outcome()
        return Delivery(link, msg.event, outcome_for_status(status), status, body,
                        round((clock.monotonic() - started) * 1000, 3), delivered=status < 300)

    d = await courier.carry(link, msg.event, data, transfer)
    if d.status is not None and d.body is not None:
        return FhirResponse(d.body, status_code=d.status, headers=RETRY_SOON if d.status == 503 else None)
    # The sender heard nothing (dropped, held, answer lost): a gateway would say it timed out.
    # BaRS codes what a proxy injects for a receiver it could not hear as REC_ (REC_TIMEOUT,
    # REC_SERVICE_UNAVAILABLE), which is what the status gives.
    if d.outcome == TIMEOUT or d.outcome == "held":
        issue = Issue("timeout", f"no answer on {link} (injected fault: {d.decision})")
        return FhirResponse(operation_outcome([issue], 504), status_code=504)
    issue = Issue("transient", f"{link} is unreachable (injected fault: {d.decision})")
    return FhirResponse(operation_outcome([issue], 503), status_code=503, headers=RETRY_SOON)

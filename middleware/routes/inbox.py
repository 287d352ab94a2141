"""`POST /{ods}/$process-message`: each trust's inbox; a message is answered as soon as it is queued."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from party_common.fhir_json import FHIR_JSON, read_message_body

from middleware.dependencies import ForwarderDep, TrustDep

router = APIRouter()


@router.post("/{ods}/$process-message")
async def process_message(trust: TrustDep, request: Request, forwarder: ForwarderDep):
    msg = await read_message_body(request)
    status, body = await request.app.state.inboxes[trust.ods].process_encoded(msg)
    # Committed: the worker may take it now.
    forwarder.notify()
    return Response(body, status_code=status, media_type=FHIR_JSON)

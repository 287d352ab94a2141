"""`POST /{ods}/$process-message`: each trust's inbox for booking messages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from party_common.fhir_json import FHIR_JSON, read_message_body

from trust_pas.dependencies import TrustDep

router = APIRouter()


@router.post("/{ods}/$process-message")
async def process_message(trust: TrustDep, request: Request):
    msg = await read_message_body(request)
    await request.app.state.site_desk.answer(trust, msg.bundle)
    status, body = await request.app.state.inboxes[trust.ods].process_encoded(msg)
    return Response(body, status_code=status, media_type=FHIR_JSON)

"""The practice inbox: `$process-message` for the broker's confirmations."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from party_common.fhir_json import FHIR_JSON, read_message_body

from gp_system.dependencies import PracticeDep

router = APIRouter()


@router.post("/{ods}/$process-message")
async def process_message(ods: PracticeDep, request: Request):
    status, answer = await request.app.state.inboxes[ods].process_encoded(await read_message_body(request))
    return Response(answer, status_code=status, media_type=FHIR_JSON)

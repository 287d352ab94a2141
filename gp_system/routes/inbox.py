"""The practice inbox: `$process-message` for the broker's confirmations."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from party_common.fhir_json import FHIR_JSON, read_fhir_body

from ..deps import PracticeDep

router = APIRouter()


@router.post("/{ods}/$process-message")
async def process_message(ods: PracticeDep, request: Request):
    body, _ = await read_fhir_body(request, "Bundle")
    status, answer = await request.app.state.inboxes[ods].process_encoded(body)
    return Response(answer, status_code=status, media_type=FHIR_JSON)

"""`$process-message`: the booking index's inbox."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from party_common.fhir_json import FHIR_JSON, read_fhir_body

from .dependencies import InboxDep

router = APIRouter()


@router.post("/$process-message")
async def process_message(request: Request, inbox: InboxDep):
    bundle, _ = await read_fhir_body(request, "Bundle")
    status, body = await inbox.process_encoded(bundle)
    return Response(body, status_code=status, media_type=FHIR_JSON)

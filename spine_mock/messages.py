"""`$process-message`: the booking index's inbox."""

from __future__ import annotations

from fastapi import APIRouter, Request

from party_common.fhir_json import FhirResponse, read_fhir_body

from .dependencies import InboxDep

router = APIRouter()


@router.post("/$process-message")
async def process_message(request: Request, inbox: InboxDep):
    bundle, _ = await read_fhir_body(request, "Bundle")
    async with request.app.state.write_gate:
        status, body = await inbox.process(bundle)
    return FhirResponse(body, status_code=status)

"""`POST /{ods}/$process-message`: each trust's inbox for booking messages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from party_common.fhir_json import FHIR_JSON, read_fhir_body

from .deps import TrustDep

router = APIRouter()


@router.post("/{ods}/$process-message")
async def process_message(trust: TrustDep, request: Request):
    bundle, _model = await read_fhir_body(request, "Bundle")
    await request.app.state.site_desk.answer(trust, bundle)
    status, body = await request.app.state.inboxes[trust.ods].process_encoded(bundle)
    return Response(body, status_code=status, media_type=FHIR_JSON)

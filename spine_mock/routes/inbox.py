"""`$process-message`: the booking index's inbox."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from party_common.fhir_json import FHIR_JSON, read_message_body

from spine_mock.dependencies import InboxDep

router = APIRouter()


@router.post("/$process-message")
async def process_message(request: Request, inbox: InboxDep):
    status, body = await inbox.process_encoded(await read_message_body(request))
    return Response(body, status_code=status, media_type=FHIR_JSON)

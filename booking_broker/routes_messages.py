"""The broker's `$process-message` inbox for GP systems."""

from __future__ import annotations

from fastapi import APIRouter, Request

from party_common.fhir_json import FhirResponse, read_fhir_body
from party_common.messaging import read_message

from .dependencies import FlowDep

router = APIRouter()


@router.post("/$process-message")
async def process_message(request: Request, flow: FlowDep):
    data, _ = await read_fhir_body(request, "Bundle")
    status, body = await flow.process(read_message(data))
    return FhirResponse(body, status_code=status)

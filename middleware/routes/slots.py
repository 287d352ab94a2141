"""Slots: searched at the legacy PAS (SQM^S25) and read from the calendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from party_common.fhir_json import FhirResponse
from party_common.outcome import not_found
from party_common.search import SearchQuery, openapi_parameters

from middleware.dependencies import CourierDep, TrustDep, trust_base
from middleware.searches import SLOT
from middleware.slot_query import read_slot, search_slots

router = APIRouter()

SlotQuery = Annotated[SearchQuery, Depends(SLOT.dependency)]


@router.get("/{ods}/Slot", openapi_extra={"parameters": openapi_parameters(SLOT)})
async def search(trust: TrustDep, request: Request, courier: CourierDep, q: SlotQuery):
    """Free slots of one service, earliest first, as the legacy PAS lists them."""
    settings = request.app.state.settings
    queue = request.app.state.forwarder.queue
    held = await queue.held_slots(trust.ods)
    # Only the queue's head is ever sent (first in, first out): the one booking the PAS may have.
    head = await queue.head() if held else None
    in_flight = head.slot_id if head is not None and head.ods == trust.ods and head.attempts else None
    return FhirResponse(await search_slots(q, trust, trust_base(request, trust), courier, request.app.state.clock,
                                           settings.pas_mllp.get(trust.ods), settings.ack_timeout_s, held,
                                           in_flight))


@router.get("/{ods}/Slot/{slot_id}")
async def read(trust: TrustDep, slot_id: str, request: Request, courier: CourierDep):
    """A slot of the trust's calendar, free or busy as the legacy PAS says."""
    settings = request.app.state.settings
    found = await read_slot(trust, slot_id, courier, request.app.state.clock, settings.pas_mllp.get(trust.ods),
                            settings.ack_timeout_s)
    if found is None:
        raise not_found(f"no Slot/{slot_id} at {trust.ods}")
    return FhirResponse(found)

"""Slot search across trusts (BaRS "get slots"), and reads of the Slots and Schedules it gives."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from party_common.fhir_json import FhirResponse
from party_common.search import SearchQuery, openapi_parameters, search_bundle

from booking_broker.dependencies import CourierDep, DirectoryDep
from booking_broker.routes.directory import entry_urls
from booking_broker.searches import SLOT
from booking_broker.slot_search import SlotSearch
from booking_broker.trust_reads import UNANSWERED, read_or_404

router = APIRouter()
SlotQuery = Annotated[SearchQuery, Depends(SLOT.dependency)]


def _ascending_sorts(parameters: list[dict]) -> list[dict]:
    """The search's parameters with `_sort` offering ascending keys only: each trust lists its slots
    earliest first, so `-start` is left out of a search (or refused by a strict one)."""
    for p in parameters:
        if p["name"] == "_sort":
            p["schema"]["enum"] = [key for key in p["schema"]["enum"] if not key.startswith("-")]
            p["description"] = f"Sort keys, comma-separated: {', '.join(p['schema']['enum'])} (earliest first)."
    return parameters


@router.get("/Slot", openapi_extra={"parameters": _ascending_sorts(openapi_parameters(SLOT))})
async def slots(request: Request, directory: DirectoryDep, courier: CourierDep, q: SlotQuery):
    page = await SlotSearch(directory, courier, q, request.headers).run()
    base = str(request.base_url).rstrip("/")
    return FhirResponse(search_bundle(q, page.slots, total=page.total, base=base, path="Slot",
                                      next_position=page.next_position, included=page.included,
                                      full_url=entry_urls(directory, base), outcome=page.outcome()))


@router.get("/Slot/{slot_id}", responses=UNANSWERED)
async def read_slot(slot_id: str, directory: DirectoryDep, courier: CourierDep):
    return FhirResponse(await read_or_404(directory, courier, "Slot", slot_id))


@router.get("/Schedule/{schedule_id}", responses=UNANSWERED)
async def read_schedule(schedule_id: str, directory: DirectoryDep, courier: CourierDep):
    return FhirResponse(await read_or_404(directory, courier, "Schedule", schedule_id))

"""Service directory and slot search across trusts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from party_common.bundles import searchset
from party_common.outcome import invalid

from .dependencies import CourierDep, DirectoryDep
from .slot_search import search_slots

router = APIRouter()


@router.get("/HealthcareService")
async def healthcare_services(request: Request, directory: DirectoryDep,
                              specialty: str | None = None, _count: Annotated[int, Query(ge=1, le=1000)] = 1000):
    await directory.ensure_loaded()
    items = [s.resource for s in directory.services.values() if specialty in (None, s.specialty)]
    return searchset(items[:_count], total=len(items), base_url=str(request.base_url), path="HealthcareService",
                     params={"specialty": specialty})


@router.get("/Slot")
async def slots(request: Request, directory: DirectoryDep, courier: CourierDep,
                service: str | None = None, specialty: str | None = None,
                status: str = "free", start: Annotated[list[str] | None, Query()] = None,
                _count: Annotated[int, Query(ge=1, le=100)] = 10):
    if not service and not specialty:
        raise invalid("give `service` or `specialty`", "specialty")
    if status != "free":
        raise invalid("the broker searches free slots only (status=free)", "status")
    found = await search_slots(directory, courier, service=service, specialty=specialty, start=start or [],
                               count=_count)
    return searchset(found, total=None, base_url=str(request.base_url), path="Slot",
                     params={"service": service, "specialty": specialty, "status": status, "start": start})

"""The practices hosted and the patients registered with each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from party_common.bundles import searchset

from ..deps import PRACTICE_NAMES, CountParam, OffsetParam, PracticeDep, SessionDep, SettingsDep
from ..models import RegisteredPatient
from ..views import organization, patient

router = APIRouter()


@router.get("/Organization")
async def list_practices(settings: SettingsDep):
    resources = [organization(ods) for ods in PRACTICE_NAMES]
    return searchset(resources, total=len(resources), base_url=settings.public_url, path="Organization")


@router.get("/{ods}/metadata")
async def practice_metadata(ods: PracticeDep, request: Request):
    return request.app.state.capability


@router.get("/{ods}/Patient")
async def list_patients(ods: PracticeDep, session: SessionDep, request: Request,
                        count: CountParam = 50, offset: OffsetParam = 0):
    total = (await session.execute(
        select(func.count()).select_from(RegisteredPatient).where(RegisteredPatient.gp_ods == ods)
    )).scalar_one()
    rows = (await session.execute(
        select(RegisteredPatient).where(RegisteredPatient.gp_ods == ods)
        .order_by(RegisteredPatient.nhs_number).offset(offset).limit(count)
    )).scalars().all()
    # Paging links as the caller reached us (a published port, a proxy), not our own idea of our URL.
    return searchset([patient(r) for r in rows], total=total, base_url=f"{str(request.base_url).rstrip('/')}/{ods}",
                     path="Patient", offset=offset, count=count)

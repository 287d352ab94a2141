"""Run-time control of the fault engine (the shared `/faults` routes, party_common/links/fault_routes.py)
and of the broker's delivery mode."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, ValidationError

from party_common.fhir_json import read_json_body
from party_common.links.fault_routes import fault_router
from party_common.outcome import invalid

from booking_broker.control_state import ControlDep
from booking_broker.dependencies import FlowDep
from booking_broker.settings import DeliveryModeName

# The control token guards the delivery mode as it does the plan (the router's dependency).
router = fault_router()


class DeliveryMode(BaseModel):
    mode: DeliveryModeName


@router.get("/delivery")
async def get_delivery(flow: FlowDep):
    return {"mode": flow.delivery}


@router.put("/delivery")
async def set_delivery(request: Request, flow: FlowDep, control: ControlDep):
    try:
        mode = DeliveryMode.model_validate(await read_json_body(request))
    except ValidationError as exc:
        raise invalid(f"mode: {exc.errors()[0].get('msg')}", "mode") from None
    flow.delivery = mode.mode
    await control.save_delivery(mode.mode)
    return {"mode": flow.delivery}

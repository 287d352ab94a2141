"""Helpers of the middleware's tests: a legacy trust, a spine that can vanish, the app, booking messages."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from party_common.booking import BookingFacts, booking_message, practice_org, service_dos, trust_org
from party_common.identifiers import dos_token, nhs_number_from_index, ubrn_from_sequence
from party_common.trusts.catalogue import build_catalogue
from party_common.trusts.schedule import minute_to_iso
from tests.inprocess import FHIR_HEADERS

ODS = "RLG1"
SERVICE = "rlg1-rlg101-cardiology"
SPINE = "http://spine.test"
TRUSTS = [{"ods": ODS, "name": "Legacy General Hospital NHS Trust", "size": "small",
           "sessions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "12:00",
                         "slot_minutes": 30}],
           "sites": [{"code": "RLG101", "name": "Legacy General Hospital", "specialties": ["cardiology"]}]}]
START = date(2027, 1, 4)


def catalogue():
    return build_catalogue(TRUSTS, START, 28)


def trust():
    return catalogue().trusts[ODS]


class FakeSpine:
    """The spine's PDS-like read: every patient is known but those in `unknown`; `down` answers 503."""

    def __init__(self) -> None:
        self.down = False
        self.unknown: set[str] = set()   # NHS numbers it has no record of (404)
        self.reads = 0
        self.clock = None   # the middleware's, in-process: each read counted as a party counts a call
        self.app = FastAPI()

        @self.app.get("/Patient/{nhs}")
        async def read(nhs: str):
            self.reads += 1
            if self.clock is not None:
                self.clock.calls_received += 1
                self.clock.calls_answered += 1
            if self.down:
                return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, status_code=503)
            if nhs in self.unknown:
                return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, status_code=404)
            return JSONResponse({"resourceType": "Patient", "id": nhs})


def settings_env(db_url: str, pas_address: str, **overrides) -> dict:
    return {"database_url": db_url, "trusts": TRUSTS, "calendar_start": START, "horizon_days": 28,
            "pas_mllp": {ODS: pas_address}, "spine_url": SPINE, "log_level": "WARNING", **overrides}


def patient(n: int) -> str:
    number = None
    while number is None:
        number = nhs_number_from_index(n)
        n += 1
    return number


def slot_id(k: int) -> str:
    service = trust().services[SERVICE]
    return service.slot_id(service.template.first + k)


def booking(n: int, k: int, *, event: str = "booking-request", status: str = "booked") -> dict:
    """Booking number n (UBRN n) of slot k of the service, as the broker sends it to the trust."""
    service = trust().services[SERVICE]
    kk = service.template.first + k
    facts = BookingFacts(ubrn=ubrn_from_sequence(n), nhs_number=patient(n), trust_ods=ODS, gp_ods="Y90001",
                         service_id=SERVICE, slot_id=service.slot_id(kk),
                         start=minute_to_iso(service.template.start_minute(kk)),
                         end=minute_to_iso(service.template.end_minute(kk)), specialty="cardiology", status=status)
    return booking_message(event, facts, sender=practice_org("Y90001"), receiver=trust_org(ODS),
                           destination=dos_token(service_dos(SERVICE)), bundle_id=f"00000000-0000-4000-{8000 + (status == 'cancelled')}-{n:06d}{k:06d}")


async def post(client, bundle: dict):
    return await client.post(f"/{ODS}/$process-message", content=orjson.dumps(bundle), headers=FHIR_HEADERS)


async def run_until(app, done, *, step: float = 0.005, advance: bool = True) -> None:
    """Waits for `done()`; on a virtual clock moves the middleware's time to its next wakeup whenever
    nothing is under way there and no MLLP or HTTP call is out (the harness's rule, docs/clock.md).
    The test's timeout bounds the wait, never a wall-clock threshold here.

    After an ACK given up on, the middleware counts that answer read though none came (the legacy PAS
    answers every message; a fake that stays silent does not), so the counts no longer show the next
    answer on the wire: wait for that one with `advance=False`."""
    clock = app.state.clock
    while not done():
        on_wire = clock.calls_sent - clock.calls_unreached > clock.calls_received \
            or clock.calls_answered > clock.answers_received
        if advance and clock.mode == "virtual" and not clock.busy and not on_wire:
            target = clock.next_wakeup()
            if target is not None:
                await clock.advance_to(target)
                continue
        await asyncio.sleep(step)

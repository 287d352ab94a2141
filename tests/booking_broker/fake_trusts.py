"""Small PASes behind the broker, with slots the test chooses, to check the broker's merged search.

Each trust lists its services and answers a Slot search of one service earliest first, paged by
`_offset` `next` links; with `counts=False` its searchsets carry no `total`, as a PAS that does not
count. Slot ids are opaque (not `<service id>-...`), so the broker has to ask every trust to read one.
A trust in `down` answers every request 503.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from party_common.identifiers import DOS_SYSTEM, ODS_SYSTEM, SPECIALTY_SYSTEM, dos_id
from party_common.search.dates import parse_instant, time_window

ORIGIN = "http://trusts.test"
DAY = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)


def at(minutes: int) -> str:
    return (DAY + timedelta(minutes=minutes)).isoformat()


@dataclass
class FakeService:
    id: str
    ods: str
    specialty: str
    minutes: list[int]               # each slot's start, minutes after DAY
    busy: set[int] = field(default_factory=set)

    def resource(self) -> dict:
        return {"resourceType": "HealthcareService", "id": self.id,
                "identifier": [{"system": DOS_SYSTEM, "value": dos_id("service", self.id)}],
                "providedBy": {"reference": f"Organization/{self.ods}",
                               "identifier": {"system": ODS_SYSTEM, "value": self.ods}},
                "type": [{"coding": [{"system": SPECIALTY_SYSTEM, "code": self.specialty}]}],
                "name": f"{self.specialty} at {self.ods}"}

    def slots(self) -> list[dict]:
        return [{"resourceType": "Slot", "id": f"{self.ods.lower()}x{self.id[-4:]}{n:03d}",
                 "schedule": {"reference": f"Schedule/{self.id}"}, "status": "busy" if m in self.busy else "free",
                 "start": at(m), "end": at(m + 10)} for n, m in enumerate(self.minutes)]


def services() -> list[FakeService]:
    """Cardiology at three trusts, two of them with slots that start together; dermatology at one."""
    return [
        FakeService("ra1-card", "RA1", "cardiology", list(range(0, 120, 10)), busy={30}),
        FakeService("ra2-card", "RA2", "cardiology", list(range(0, 120, 15))),
        FakeService("ra3-card", "RA3", "cardiology", [0, 10, 20, 60, 61, 62]),
        FakeService("ra3-derm", "RA3", "dermatology", list(range(0, 60, 20))),
    ]


class FakeTrusts:
    def __init__(self, counts: bool = True):
        self.services = {s.id: s for s in services()}
        self.counts = counts
        self.down: set[str] = set()
        self.directory_reads = 0

    def endpoints(self) -> dict[str, str]:
        return {s.ods: f"{ORIGIN}/{s.ods}" for s in self.services.values()}

    def free_slots(self, specialty: str) -> list[dict]:
        found = [slot for s in self.services.values() if s.specialty == specialty for slot in s.slots()
                 if slot["status"] == "free"]
        return sorted(found, key=lambda slot: (parse_instant(slot["start"]), slot["id"]))

    def app(self) -> FastAPI:
        app = FastAPI()

        def ours(ods: str) -> list[FakeService]:
            return [s for s in self.services.values() if s.ods == ods]

        def bundle(items: list[dict], total: int | None, next_url: str | None) -> JSONResponse:
            body: dict = {"resourceType": "Bundle", "type": "searchset",
                          "link": [{"relation": "next", "url": next_url}] if next_url else [],
                          "entry": [{"resource": r, "search": {"mode": "match"}} for r in items]}
            if total is not None and self.counts:
                body["total"] = total
            return JSONResponse(body)

        @app.middleware("http")
        async def outage(request: Request, call_next):
            if request.url.path.split("/")[1] in self.down:
                return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, status_code=503)
            return await call_next(request)

        @app.get("/{ods}/HealthcareService")
        async def directory(ods: str):
            self.directory_reads += 1
            found = [s.resource() for s in ours(ods)]
            return bundle(found, len(found), None)

        @app.get("/{ods}/Slot")
        async def search(ods: str, request: Request):
            params = request.query_params
            service = self.services.get(params.get("service", ""))
            statuses = set(params.get("status", "free,busy").split(","))
            window = time_window(params.getlist("start"), "start")
            found = [slot for slot in (service.slots() if service and service.ods == ods else [])
                     if slot["status"] in statuses and window.holds(parse_instant(slot["start"]))]
            count, offset = int(params.get("_count", 10)), int(params.get("_offset", 0))
            page = found[offset:offset + count]
            more = offset + count < len(found) and count
            query = [(k, v) for k, v in params.multi_items() if k != "_offset"] + [("_offset", str(offset + count))]
            return bundle(page, len(found), f"{ORIGIN}/{ods}/Slot?{urlencode(query)}" if more else None)

        @app.get("/{ods}/Slot/{slot_id}")
        async def read_slot(ods: str, slot_id: str):
            for s in ours(ods):
                for slot in s.slots():
                    if slot["id"] == slot_id:
                        return JSONResponse(slot)
            return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, status_code=404)

        @app.get("/{ods}/Schedule/{schedule_id}")
        async def read_schedule(ods: str, schedule_id: str):
            s = self.services.get(schedule_id)
            if s is None or s.ods != ods:
                return JSONResponse({"resourceType": "OperationOutcome", "issue": []}, status_code=404)
            return JSONResponse({"resourceType": "Schedule", "id": s.id,
                                 "actor": [{"reference": f"HealthcareService/{s.id}"}]})

        return app

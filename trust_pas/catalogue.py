"""The trusts this service hosts: sites, specialties and weekly clinic templates, as data.

The layout mirrors the trusts of a 2007 study of Choose and Book: two large trusts formed by a merger
(two sites each), one large single-site trust and one small trust. Names are fictional.

`PAS_TRUSTS` may replace `DEFAULT_TRUSTS` with JSON of the same shape: a list of
`{"ods", "name", "size", "alias"?, "sessions", "sites": [{"code", "name", "specialties", "sessions"?}]}`
where a session is `{"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM", "slot_minutes": N}`
(a site's own `sessions` replace its trust's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from pydantic import BaseModel, Field, field_validator

from party_common.booking import service_dos

from .schedule import DAY_CODES, ClinicSession, WeeklyTemplate, minute_to_stamp, stamp_to_minute

SPECIALTY_NAMES: dict[str, str] = {
    "cardiology": "Cardiology",
    "dermatology": "Dermatology",
    "orthopaedics": "Trauma and orthopaedics",
    "ent": "Ear, nose and throat",
    "ophthalmology": "Ophthalmology",
    "gastroenterology": "Gastroenterology",
}

_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
_ALL = list(SPECIALTY_NAMES)

DEFAULT_TRUSTS: list[dict] = [
    {
        "ods": "RT1",
        "name": "Testshire Hospitals NHS Trust",
        "size": "large",
        "alias": ["Testshire General Hospital NHS Trust", "Northbrook Healthcare NHS Trust"],
        "sessions": [
            {"days": _WEEKDAYS, "start": "08:30", "end": "12:30", "slot_minutes": 10},
            {"days": _WEEKDAYS, "start": "13:30", "end": "17:30", "slot_minutes": 10},
        ],
        "sites": [
            {"code": "RT101", "name": "Testshire General Hospital", "specialties": _ALL},
            {"code": "RT102", "name": "Northbrook Community Hospital",
             "specialties": ["cardiology", "dermatology", "orthopaedics", "ent", "ophthalmology"]},
        ],
    },
    {
        "ods": "RT2",
        "name": "Exampleton and Wold Hospitals NHS Trust",
        "size": "large",
        "alias": ["Exampleton Royal Infirmary NHS Trust", "Wold Valley Hospital NHS Trust"],
        "sessions": [
            {"days": _WEEKDAYS, "start": "08:00", "end": "12:30", "slot_minutes": 15},
            {"days": _WEEKDAYS, "start": "13:00", "end": "18:00", "slot_minutes": 15},
            {"days": ["sat"], "start": "09:00", "end": "12:00", "slot_minutes": 15},
        ],
        "sites": [
            {"code": "RT201", "name": "Exampleton Royal Infirmary", "specialties": _ALL},
            {"code": "RT202", "name": "Wold Valley Hospital",
             "specialties": ["cardiology", "orthopaedics", "ent", "ophthalmology", "gastroenterology"]},
        ],
    },
    {
        "ods": "RT3",
        "name": "Sampleford University Hospital NHS Trust",
        "size": "large",
        "sessions": [
            {"days": _WEEKDAYS, "start": "09:00", "end": "12:30", "slot_minutes": 10},
            {"days": _WEEKDAYS, "start": "13:30", "end": "17:00", "slot_minutes": 10},
            {"days": ["tue", "thu"], "start": "17:30", "end": "19:30", "slot_minutes": 10},
        ],
        "sites": [
            {"code": "RT301", "name": "Sampleford University Hospital", "specialties": _ALL},
        ],
    },
    {
        "ods": "RT4",
        "name": "Mockbridge District Hospital NHS Trust",
        "size": "small",
        "sessions": [
            {"days": _WEEKDAYS, "start": "09:00", "end": "12:30", "slot_minutes": 15},
            {"days": _WEEKDAYS, "start": "13:30", "end": "17:00", "slot_minutes": 15},
        ],
        "sites": [
            {"code": "RT401", "name": "Mockbridge District Hospital",
             "specialties": ["dermatology", "ophthalmology", "gastroenterology"]},
        ],
    },
]

# Every id built from these lands in the FHIR id charset and stays within its 64 characters.
_CODE = re.compile(r"^[A-Za-z0-9]{1,12}$")
_SPECIALTY = re.compile(r"^[a-z0-9]{1,24}$")


class SessionSpec(BaseModel):
    days: list[str | int]
    start: str
    end: str
    slot_minutes: int = Field(gt=0, le=24 * 60)

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str | int]) -> list[int]:
        out = []
        for d in v:
            if isinstance(d, int):
                if not 0 <= d <= 6:
                    raise ValueError(f"weekday out of range: {d}")
                out.append(d)
            elif d.lower()[:3] in DAY_CODES:
                out.append(DAY_CODES.index(d.lower()[:3]))
            else:
                raise ValueError(f"unknown weekday {d!r}")
        return out

    def to_session(self) -> ClinicSession:
        return ClinicSession(tuple(int(d) for d in self.days), self.start, self.end, self.slot_minutes)


class SiteSpec(BaseModel):
    code: str = Field(pattern=_CODE.pattern)
    name: str
    specialties: list[str] = Field(min_length=1)
    sessions: list[SessionSpec] | None = None

    @field_validator("specialties")
    @classmethod
    def _specialties(cls, v: list[str]) -> list[str]:
        for code in v:
            if not _SPECIALTY.match(code):
                raise ValueError(f"specialty code {code!r} must be lower-case letters and digits")
        if len(set(v)) != len(v):
            raise ValueError("a site lists a specialty twice")
        return v


class TrustSpec(BaseModel):
    ods: str = Field(pattern=_CODE.pattern)
    name: str
    size: str = "large"
    alias: list[str] = []
    sessions: list[SessionSpec] = Field(min_length=1)
    sites: list[SiteSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    trust_ods: str


@dataclass
class Service:
    id: str
    trust_ods: str
    site: Site
    specialty: str
    template: WeeklyTemplate

    @property
    def specialty_display(self) -> str:
        return SPECIALTY_NAMES.get(self.specialty, self.specialty.replace("-", " ").capitalize())

    @property
    def name(self) -> str:
        return f"{self.specialty_display} outpatients, {self.site.name}"

    def slot_id(self, k: int) -> str:
        return f"{self.id}-{minute_to_stamp(self.template.start_minute(k))}"


@dataclass
class Trust:
    ods: str
    name: str
    size: str
    alias: list[str]
    sites: list[Site]
    services: dict[str, Service] = field(default_factory=dict)

    @cached_property
    def by_dos(self) -> dict[str, Service]:
        """The services by DoS id, the id BaRS addresses a service by (read after the catalogue is built)."""
        return {service_dos(s.id): s for s in self.services.values()}

    def slot(self, slot_id: str) -> tuple[Service, int] | None:
        """(service, ordinal) of a slot id of this trust's calendar; None when there is no such slot."""
        service_id, _, stamp = slot_id.rpartition("-")
        service = self.services.get(service_id)
        minute = stamp_to_minute(stamp)
        if service is None or minute is None:
            return None
        k = service.template.ordinal_of(minute)
        return None if k is None else (service, k)


@dataclass
class Catalogue:
    trusts: dict[str, Trust]

    def trust(self, ods: str) -> Trust | None:
        return self.trusts.get(ods.upper())

    @property
    def services(self) -> list[Service]:
        return [s for t in self.trusts.values() for s in t.services.values()]


def service_id(ods: str, site: str, specialty: str) -> str:
    return f"{ods}-{site}-{specialty}".lower()


def build_catalogue(specs: list[dict] | None, calendar_start: date, horizon_days: int) -> Catalogue:
    """The catalogue with each service's template laid over the calendar; raises on bad data."""
    trusts: dict[str, Trust] = {}
    for raw in specs if specs is not None else DEFAULT_TRUSTS:
        spec = TrustSpec.model_validate(raw)
        ods = spec.ods.upper()
        if ods in trusts:
            raise ValueError(f"trust {ods} listed twice")
        trust = Trust(ods=ods, name=spec.name, size=spec.size, alias=spec.alias, sites=[])
        for site_spec in spec.sites:
            site = Site(code=site_spec.code.upper(), name=site_spec.name, trust_ods=ods)
            trust.sites.append(site)
            sessions = [s.to_session() for s in (site_spec.sessions or spec.sessions)]
            template = WeeklyTemplate(sessions, calendar_start, horizon_days)
            for specialty in site_spec.specialties:
                sid = service_id(ods, site.code, specialty)
                if sid in trust.services:
                    raise ValueError(f"service {sid} listed twice")
                trust.services[sid] = Service(sid, ods, site, specialty, template)
        trusts[ods] = trust
    return Catalogue(trusts)

"""The trusts the trust PAS hosts by default, and the shape of a trust catalogue (`PAS_TRUSTS`).

The layout mirrors the trusts of a 2007 study of Choose and Book: two large trusts formed by a merger
(two sites each), one large single-site trust and one small trust. Names are fictional.

`PAS_TRUSTS` may replace `DEFAULT_TRUSTS` with JSON of the same shape: a list of
`{"ods", "name", "size", "alias"?, "sessions", "sites": [{"code", "name", "specialties", "sessions"?}]}`
where a session is `{"days": ["mon", ...], "start": "HH:MM", "end": "HH:MM", "slot_minutes": N}`
(a site's own `sessions` replace its trust's). The harness reads the trust and site codes from here
(a scenario names them) and hands the PAS a subset as `PAS_TRUSTS`; the PAS lays each over its calendar
(party_common/trusts/catalogue.py).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

DAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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

"""The synthetic population: patients from the 999 test range, registered with fictional practices.

Spine and GP systems each hold their own copy, generated from the same seed, the way PDS and a
practice's clinical system each hold their own record of a registration.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from party_common.identifiers import nhs_number_from_index

PRACTICES: list[tuple[str, str]] = [
    ("Y90001", "Riverside Medical Practice"),
    ("Y90002", "Hilltop Surgery"),
    ("Y90003", "Market Square Health Centre"),
    ("Y90004", "Old Mill Family Practice"),
]

_FAMILY = ["Testpatient", "Example", "Sample", "Dummy", "Fixture", "Mockford", "Stubbs", "Fakeley"]
_GIVEN = {"female": ["Alice", "Beth", "Cara", "Dina", "Esme"], "male": ["Adam", "Ben", "Carl", "Dev", "Ed"]}


@dataclass(frozen=True)
class SyntheticPatient:
    nhs_number: str
    family: str
    given: str
    gender: str
    birth_date: date
    gp_ods: str

    def to_fhir(self) -> dict:
        return {
            "resourceType": "Patient",
            "id": self.nhs_number,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": self.nhs_number}],
            "name": [{"use": "official", "family": self.family, "given": [self.given]}],
            "gender": self.gender,
            "birthDate": self.birth_date.isoformat(),
            "generalPractitioner": [{
                "type": "Organization",
                "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": self.gp_ods},
            }],
        }


def synthetic_population(seed: int, size: int, practices: list[str] | None = None) -> list[SyntheticPatient]:
    codes = practices or [code for code, _ in PRACTICES]
    rng = random.Random(f"population:{seed}")
    out: list[SyntheticPatient] = []
    index = 0
    while len(out) < size:
        index += 1
        number = nhs_number_from_index(index)
        if number is None:
            continue
        gender = rng.choice(("female", "male"))
        out.append(SyntheticPatient(
            nhs_number=number,
            family=rng.choice(_FAMILY),
            given=rng.choice(_GIVEN[gender]),
            gender=gender,
            birth_date=date(1930, 1, 1) + timedelta(days=rng.randrange(0, 33000)),
            gp_ods=codes[(index + seed) % len(codes)],
        ))
    return out

"""Published BaRS booking messages for a trust behind the middleware: the values it knows
(tests/e2e/bars_examples.py rewrites the message to them) and the UBRN the broker adds on the way."""

from __future__ import annotations

import json
from pathlib import Path

from party_common.booking import service_dos
from party_common.identifiers import UBRN_SYSTEM, dos_id
from tests.e2e.bars_examples import Known, rewrite_values

PRACTICE = "Y90001"
BOOKINGS = ["process_message/POST-body.json", "process_message/request/Booking_POST.json"]


def known_at(trust_ods: str, service_id: str, slot: dict, nhs_number: str) -> Known:
    """A patient (999 range), the practice, the trust's service and a free `slot` of it (a FHIR Slot)."""
    return Known(nhs_number=nhs_number, practice_ods=PRACTICE, practice_dos=dos_id("practice", PRACTICE),
                 trust_ods=trust_ods, trust_dos=dos_id("trust", trust_ods), service_id=service_id,
                 service_dos=service_dos(service_id), slot_id=slot["id"], slot_start=slot["start"],
                 slot_end=slot["end"])


def with_ubrn(message: dict, ubrn: str, status: str | None = None) -> dict:
    """The message as the broker passes a booking on: its focus Appointment under the booking's UBRN
    (and, for a cancellation, `cancelled`). Nothing else is touched."""
    out = json.loads(json.dumps(message))
    focus = out["entry"][0]["resource"]["focus"][0]["reference"]
    appointment = next(e["resource"] for e in out["entry"] if e["fullUrl"] == focus)
    appointment["identifier"] = [{"system": UBRN_SYSTEM, "value": ubrn}]
    if status:
        appointment["status"] = status
    return out


def published(reference_dir: Path, name: str, known: Known, ubrn: str | None = None,
              status: str | None = None) -> dict:
    """The published file `name` with `known` values (fresh ids each call), under `ubrn` if given."""
    message = rewrite_values(json.loads((reference_dir / name).read_text()), known)
    return message if ubrn is None else with_ubrn(message, ubrn, status)

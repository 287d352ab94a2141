"""The example messages of contracts/examples/, built from their facts with the suites' own builders.

Each example is the message one link carries, as the sending party writes it (contracts/messages.py),
at a fixed time and under fixed ids, so the files are the same on every machine and every run. The
slots are slots of the testbed's calendar (the pacts book them against a fresh stack).

    python -m contracts.example_messages            # exit 1 naming each example that differs
    python -m contracts.example_messages --update   # rewrite contracts/examples/
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta

from party_common.clock import VirtualClock, using_clock

from .data import EXAMPLES_DIR
from .messages import BOOKING_CANCEL, BOOKING_REQUEST, booking_facts, confirmation, from_practice, to_pas, to_spine

EXAMPLE_TIME = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
NHS_NUMBER = "9990000018"
PRACTICE, TRUST = "Y90001", "RT1"
RT1_CARDIOLOGY = "rt1-rt101-cardiology"       # 10-minute slots
RT2_CARDIOLOGY = "rt2-rt201-cardiology"       # 15-minute slots
_IDS = uuid.UUID("b0c3f5a2-6f0e-4d7c-9a51-7e2d4c1f8b90")


def _ids(name: str) -> dict:
    return {"bundle_id": str(uuid.uuid5(_IDS, name)), "header_id": str(uuid.uuid5(_IDS, f"{name}|header"))}


def _slot(service: str, day_time: str, minutes: int) -> dict:
    """A calendar slot of `service` starting at 2027-03-01T<day_time>Z."""
    start = datetime.fromisoformat(f"2027-03-01T{day_time}:00+00:00")
    end = start + timedelta(minutes=minutes)
    return {"id": f"{service}-{start:%Y%m%d%H%M}", "start": f"{start:%Y-%m-%dT%H:%M:%SZ}",
            "end": f"{end:%Y-%m-%dT%H:%M:%SZ}"}


def _facts(service: str, slot: dict, ubrn: str | None, *, trust: str | None = TRUST, status: str = "booked",
           referral: str = "referral-0001"):
    return booking_facts(slot=slot, service_id=service, ubrn=ubrn, trust_ods=trust, gp_ods=PRACTICE,
                         nhs_number=NHS_NUMBER, specialty="cardiology", status=status, referral_id=referral)


def build_examples() -> dict[str, dict]:
    """Every example, by name (the file name without `.json`)."""
    def rt1(time: str) -> dict:
        return _slot(RT1_CARDIOLOGY, time, 10)

    with using_clock(VirtualClock(EXAMPLE_TIME)):
        return {
            "broker-to-pas.booking-request": to_pas(
                BOOKING_REQUEST, _facts(RT1_CARDIOLOGY, rt1("09:00"), "990000000001"),
                **_ids("broker-to-pas.booking-request")),
            "broker-to-pas.booking-cancel": to_pas(
                BOOKING_CANCEL, _facts(RT1_CARDIOLOGY, rt1("09:10"), "990000000002", status="cancelled"),
                **_ids("broker-to-pas.booking-cancel")),
            "broker-to-pas.booking-request.slot-taken": to_pas(
                BOOKING_REQUEST, _facts(RT1_CARDIOLOGY, rt1("09:20"), "990000000004"),
                **_ids("broker-to-pas.booking-request.slot-taken")),
            "broker-to-spine.booking-report": to_spine(
                BOOKING_REQUEST, _facts(RT1_CARDIOLOGY, rt1("10:00"), "990000000005"),
                **_ids("broker-to-spine.booking-report")),
            "broker-to-spine.allocate-ubrn": {
                "resourceType": "Parameters", "parameter": [{"name": "nhsNumber", "valueString": NHS_NUMBER}]},
            "broker-to-gp.confirmation": confirmation(
                BOOKING_REQUEST, _facts(RT1_CARDIOLOGY, rt1("10:10"), "990000000006"),
                request_id=str(uuid.uuid5(_IDS, "gp-to-broker.booking-request (an earlier one)")),
                **_ids("broker-to-gp.confirmation")),
            "gp-to-broker.booking-request": from_practice(
                BOOKING_REQUEST, _facts(RT2_CARDIOLOGY, _slot(RT2_CARDIOLOGY, "08:00", 15), None, trust=None,
                                        referral="referral-0002"),
                **_ids("gp-to-broker.booking-request")),
        }


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def differing() -> list[str]:
    """Names of the examples whose file is missing or differs from what build_examples() makes."""
    built = build_examples()
    out = [name for name, doc in built.items()
           if not (EXAMPLES_DIR / f"{name}.json").is_file() or (EXAMPLES_DIR / f"{name}.json").read_text() != render(doc)]
    out += sorted(p.stem for p in EXAMPLES_DIR.glob("*.json") if p.stem not in built)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--update"]:
        EXAMPLES_DIR.mkdir(parents=True, exist_ok=True)
        built = build_examples()
        for stale in EXAMPLES_DIR.glob("*.json"):
            if stale.stem not in built:
                stale.unlink()
        for name, doc in built.items():
            (EXAMPLES_DIR / f"{name}.json").write_text(render(doc))
            print(f"WROTE {EXAMPLES_DIR / name}.json")
        return 0
    if args:
        print("usage: python -m contracts.example_messages [--update]", file=sys.stderr)
        return 2
    changed = differing()
    for name in changed:
        print(f"CHANGED {name}")
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main())

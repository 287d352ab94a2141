"""Every message a real run puts on the wire is a BaRS message Bundle as the spec publishes it.

One small run through `testbed run`'s own path (harness.run.runner on an embedded stack over loopback
sockets, reliable delivery, cancellations and rebookings, faults that make the broker retry, copy and
refuse), then every message body recorded in the run folder's `messages.jsonl` is checked:

(a) it validates against the spec's `schemas/MessageBundle.yaml`;
(b) it parses as an R4B Bundle (`fhir.resources.R4B`);
(c) every entry has a `urn:uuid` fullUrl, every `reference` in it resolves to an entry of the same
    Bundle, and every entry is reachable from the MessageHeader by following references.

The only body that is not a message is the UBRN allocation (`$allocate-ubrn`, a Parameters).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from harness.replay.run import free_local_urls
from harness.run.record import read_jsonl
from harness.run.runner import RunOptions, run
from harness.scenario.model import parse_scenario
from tests.e2e.bars_examples import MessageSchema

pytestmark = pytest.mark.timeout(300)

URN_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

SCENARIO = {
    "name": "messages-conform",
    "seed": 11,
    "delivery": "reliable",
    "population": {"practices": 4, "patients_per_practice": 50},
    "workload": {"bookings": 40, "concurrency": 4, "cancellations": 0.25, "rebookings": 0.5},
    "faults": [
        # The trust refuses one booking for good: the practice is sent a fatal-error confirmation.
        {"link": "broker->pas:*", "event": "booking-request", "action": "error", "status": 422,
         "code": "business-rule", "nth": [2]},
        # Lost messages to the trusts are sent again from the outbox, as the same message.
        {"link": "broker->pas:*", "event": "booking-*", "action": "drop", "probability": 0.2},
        # Confirmations delivered twice; index reports whose answers are lost, so sent again.
        {"link": "broker->gp:*", "action": "duplicate", "probability": 0.2},
        {"link": "broker->spine", "event": "booking-*", "action": "lose-ack", "probability": 0.2},
    ],
}

# What the run must have put on the wire for the check to mean anything: (link kind, event, response code).
EXPECTED_KINDS = {
    ("gp->broker", "booking-request", None), ("gp->broker", "booking-cancel", None),
    ("broker->pas", "booking-request", None), ("broker->pas", "booking-cancel", None),
    ("broker->gp", "booking-request", "ok"), ("broker->gp", "booking-request", "fatal-error"),
    ("broker->gp", "booking-cancel", "ok"),
    ("broker->spine", "booking-request", None), ("broker->spine", "booking-cancel", None),
}


def references(value, path: str = "") -> list[tuple[str, str]]:
    """(JSON path, value) of every key named `reference`, anywhere."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference":
                found.append((f"{path}.{key}", item))
            else:
                found += references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += references(item, f"{path}[{i}]")
    return found


def graph_problems(bundle: dict) -> list[str]:
    """Rule (c): urn:uuid fullUrls, references resolving inside the Bundle, every entry reachable."""
    problems = []
    entries = bundle.get("entry") or []
    by_url: dict[str, dict] = {}
    for i, entry in enumerate(entries):
        url = entry.get("fullUrl")
        if not isinstance(url, str) or not URN_UUID.match(url):
            problems.append(f"entry[{i}] ({(entry.get('resource') or {}).get('resourceType')}): fullUrl {url!r} "
                            "is not urn:uuid")
        elif url in by_url:
            problems.append(f"entry[{i}]: fullUrl {url} repeated")
        else:
            by_url[url] = entry.get("resource") or {}
    for i, entry in enumerate(entries):
        for path, ref in references(entry.get("resource"), f"entry[{i}].resource"):
            if ref not in by_url:
                problems.append(f"{path} = {ref!r} resolves to no entry")
    if entries:
        reached, todo = {entries[0].get("fullUrl")}, [entries[0].get("resource") or {}]
        while todo:
            for _, ref in references(todo.pop()):
                if ref in by_url and ref not in reached:
                    reached.add(ref)
                    todo.append(by_url[ref])
        for i, entry in enumerate(entries):
            if entry.get("fullUrl") not in reached:
                problems.append(f"entry[{i}] ({(entry.get('resource') or {}).get('resourceType')}) is not reachable "
                                "from the MessageHeader")
    return problems


def r4b_problems(bundle: dict) -> list[str]:
    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return []


def kind_of(journal_entry: dict, bundle: dict) -> tuple[str, str, str | None]:
    link = journal_entry["link"]
    side = "gp->broker" if link.startswith("gp:") else link.split(":", 1)[0]
    header = bundle["entry"][0]["resource"]
    return side, header["eventCoding"]["code"], (header.get("response") or {}).get("code")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    scenario = parse_scenario(SCENARIO, "test_run_messages_conform")
    summary, folder = run(RunOptions(scenario=scenario, urls=free_local_urls(),
                                     runs_dir=tmp_path_factory.mktemp("runs")))
    assert summary["run"]["stack"] == "embedded"
    assert summary["bookings"]["accepted"] > 0
    return folder


def test_the_checks_catch_what_they_check(reference_dir):
    """The rules have teeth: a Bundle broken each way is caught by the rule meant for it."""
    published = json.loads((reference_dir / "process_message" / "request" / "Booking_POST.json").read_text())
    schema = MessageSchema(reference_dir / "schemas" / "MessageBundle.yaml")
    assert schema.errors(published) == [] and r4b_problems(published) == [] and graph_problems(published) == []

    broken = json.loads(json.dumps(published))
    broken["id"] = "not-a-uuid"
    assert [p for p, _ in schema.errors(broken)] == ["id"]
    broken = json.loads(json.dumps(published))
    broken["entry"][1]["resource"]["start"] = "tomorrow"
    broken["entry"][4]["resource"]["bookable"] = True
    assert [p.split(":")[0] for p in r4b_problems(broken)] == ["entry.1.resource.start", "entry.4.resource.bookable"]
    broken = json.loads(json.dumps(published))
    broken["entry"][1]["resource"]["slot"][0]["reference"] = "Slot/elsewhere"
    broken["entry"][2]["fullUrl"] = "https://example.org/Patient/1"
    assert graph_problems(broken) == [
        "entry[2] (Patient): fullUrl 'https://example.org/Patient/1' is not urn:uuid",
        "entry[1].resource.slot[0].reference = 'Slot/elsewhere' resolves to no entry",
        ("entry[1].resource.participant[0].actor.reference = 'urn:uuid:788660eb-d2c9-4773-abd4-318484673fb2' "
         "resolves to no entry"),
        "entry[2] (Patient) is not reachable from the MessageHeader",
        "entry[3] (Organization) is not reachable from the MessageHeader",
        "entry[4] (Slot) is not reachable from the MessageHeader",
        "entry[5] (Schedule) is not reachable from the MessageHeader",
        "entry[6] (HealthcareService) is not reachable from the MessageHeader",
        "entry[7] (Practitioner) is not reachable from the MessageHeader",
        "entry[8] (PractitionerRole) is not reachable from the MessageHeader",
        "entry[9] (Location) is not reachable from the MessageHeader",
    ]


def test_every_message_of_a_run_is_a_bars_message_bundle(run_folder, reference_dir):
    schema = MessageSchema(reference_dir / "schemas" / "MessageBundle.yaml")
    journal = {e["seq"]: e for e in read_jsonl(run_folder / "journal.jsonl")}
    recorded = [orjson.loads(line) for line in (run_folder / "messages.jsonl").read_bytes().splitlines() if line]

    kinds: Counter = Counter()
    others: Counter = Counter()
    failures: list[str] = []
    for m in recorded:
        body, entry = m["body"], journal[m["seq"]]
        if not (isinstance(body, dict) and body.get("resourceType") == "Bundle"):
            others[(entry["link"], entry["event"], (m.get("url") or "").rsplit("/", 1)[-1],
                    body.get("resourceType") if isinstance(body, dict) else type(body).__name__)] += 1
            continue
        kind = kind_of(entry, body)
        kinds[kind] += 1
        name = f"seq {m['seq']} {'/'.join(str(k) for k in kind if k)} ({entry['decision']})"
        failures += [f"{name}: (a) schema: {path or '<root>'}: {msg}" for path, msg in schema.errors(body)]
        failures += [f"{name}: (b) R4B: {p}" for p in r4b_problems(body)]
        failures += [f"{name}: (c) {p}" for p in graph_problems(body)]

    assert EXPECTED_KINDS <= set(kinds), f"the run sent no {sorted(EXPECTED_KINDS - set(kinds), key=str)}"
    # The one body that is not a message: the UBRN allocation, a Parameters the spine answers in kind.
    assert {(link, event, last, rtype) for link, event, last, rtype in others} == \
        {("broker->spine", "allocate-ubrn", "$allocate-ubrn", "Parameters")}
    assert failures == [], f"{len(failures)} problem(s) in {sum(kinds.values())} messages:\n" + "\n".join(failures[:60])

"""A body-mutation fuzzer over real messages, at every party's inbox over sockets (conftest.py).

The messages: the published BaRS examples (rewritten to values the stack holds, tests/e2e/bars_examples.py)
and the ones our parties build (party_common's booking and referral builders, as the broker and the
GP system call them), each sent first as it is, then mutated (tests/fuzz/mutations.py). Each mutant
goes out with fresh message and request ids, so it is read as a new message rather than a repeat.

Every answer must be below 500, over a connection that was not dropped, FHIR JSON, an OperationOutcome
when it is an error; afterwards every party's /health must be ok. Seeded: FUZZ_SEED, printed at the
start; mutant i of a target is drawn from Random(f"{seed}:{target}:{i}"), so one can be drawn again
alone. FUZZ_MUTATIONS sets how many mutants each inbox gets. A failing mutant's body is written to a
file, named in the failure with a curl command that sends it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from party_common.booking import BROKER, SPINE, BookingFacts, booking_message, practice_message, practice_org, \
    trust_org
from party_common.identifiers import NHS_NUMBER_SYSTEM, SPECIALTY_SYSTEM, dos_token
from party_common.messaging import BOOKING_CANCEL, BOOKING_REQUEST, SERVICEREQUEST_REQUEST
from party_common.referral import ReferralFacts, referral_message
from tests.conftest import REFERENCE
from tests.e2e.bars_examples import known_values, rewrite_values

from .conftest import PARTIES, PRACTICE, SEED, TRUST
from .mutations import mutate

pytestmark = [pytest.mark.sockets, pytest.mark.timeout(180)]

MUTATIONS = int(os.environ.get("FUZZ_MUTATIONS", "250"))
FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
INBOX = {"broker": "/$process-message", "spine": "/$process-message", "pas": f"/{TRUST}/$process-message",
         "gp": f"/{PRACTICE}/$process-message"}


@dataclass
class Target:
    name: str
    url: str
    messages: list[dict]


async def _known(fuzz_stack):
    async with httpx.AsyncClient(timeout=60, headers=_trace()) as client:
        return await known_values(client, fuzz_stack.urls, nth_slot=7)


def _trace() -> dict[str, str]:
    return {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}


def _published(name: str) -> dict | None:
    path = REFERENCE / "process_message" / "request" / name
    return json.loads(path.read_text()) if path.is_file() else None


def _ubrn(fuzz_stack, nhs_number: str) -> str:
    r = httpx.post(f"{fuzz_stack.url('spine')}/$allocate-ubrn", headers={**FHIR, **_trace()}, timeout=30,
                   json={"resourceType": "Parameters", "parameter": [{"name": "nhsNumber", "valueString": nhs_number}]})
    r.raise_for_status()
    return next(p["valueIdentifier"]["value"] for p in r.json()["parameter"] if p["name"] == "ubrn")


def _messages(fuzz_stack, known) -> dict[str, list[dict]]:
    """Each inbox's real messages: what its senders in the stack send it, and the published examples."""
    facts = BookingFacts(ubrn=None, nhs_number=known.nhs_number, trust_ods=known.trust_ods, gp_ods=known.practice_ods,
                         service_id=known.service_id, slot_id=known.slot_id, start=known.slot_start,
                         end=known.slot_end, service_dos=known.service_dos)
    booked = BookingFacts(**{**facts.__dict__, "ubrn": _ubrn(fuzz_stack, known.nhs_number)})
    referral = ReferralFacts(referral_id=str(uuid.uuid4()), nhs_number=known.nhs_number, gp_ods=known.practice_ods,
                             service_id=known.service_id, trust_ods=known.trust_ods, service_dos=known.service_dos)
    practice, trust = practice_org(known.practice_ods), trust_org(known.trust_ods)
    published = [m for m in (_published("Booking_POST.json"), _published("ValidationRequest_POST.json")) if m]
    return {
        "broker": [practice_message(BOOKING_REQUEST, facts), practice_message(BOOKING_CANCEL, booked),
                   referral_message(SERVICEREQUEST_REQUEST, referral, sender=practice, receiver=None,
                                    destination=dos_token(known.service_dos)),
                   *(rewrite_values(m, known) for m in published)],
        "spine": [booking_message(BOOKING_REQUEST, booked, sender=BROKER, receiver=SPINE, destination=SPINE.endpoint)],
        "pas": [booking_message(BOOKING_REQUEST, booked, sender=practice, receiver=trust,
                                destination=dos_token(known.service_dos)),
                referral_message(SERVICEREQUEST_REQUEST, referral, sender=practice, receiver=trust,
                                 destination=dos_token(known.service_dos)),
                *(rewrite_values(m, known) for m in published)],
        "gp": [booking_message(BOOKING_REQUEST, booked, sender=trust, receiver=practice, destination=practice.endpoint,
                               response={"identifier": str(uuid.uuid4()), "code": "ok"}),
               *(rewrite_values(m, known, to_practice=True) for m in published)],
    }


def _fresh_ids(message: dict) -> dict:
    """The message as a new one: a Bundle.id and MessageHeader.id of its own (a repeat is answered from
    the receiver's record, so mutants sharing ids would mostly be 409s)."""
    out = json.loads(json.dumps(message))
    out["id"] = str(uuid.uuid4())
    header = (out.get("entry") or [{}])[0].get("resource") or {}
    if "id" in header:
        header["id"] = str(uuid.uuid4())
    return out


@dataclass
class Answer:
    status: int | None
    problem: str | None


def _send(client: httpx.Client, url: str, body: bytes) -> Answer:
    try:
        r = client.post(url, content=body, headers={**FHIR, **_trace()})
    except httpx.HTTPError as exc:
        return Answer(None, f"no answer: {exc!r} (a dropped connection?)")
    if r.status_code >= 500:
        return Answer(r.status_code, f"{r.status_code}: {r.text[:300]}")
    if not r.headers.get("content-type", "").startswith("application/fhir+json"):
        return Answer(r.status_code, f"{r.status_code} answered as {r.headers.get('content-type')!r}: {r.text[:200]}")
    try:
        answer = r.json()
    except ValueError:
        return Answer(r.status_code, f"{r.status_code}: not JSON: {r.text[:200]}")
    if r.status_code >= 400 and (not isinstance(answer, dict) or answer.get("resourceType") != "OperationOutcome"
                                 or not answer.get("issue")):
        return Answer(r.status_code, f"{r.status_code} without an OperationOutcome: {r.text[:200]}")
    return Answer(r.status_code, None)


def _report(failures: list[tuple[int, list[str], bytes, str]], target: str, url: str) -> str:
    # Outside pytest's own temporary folders, which later runs clear: the bodies outlive the run.
    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))
    lines = [f"{len(failures)} of the mutants sent to {target} failed (FUZZ_SEED={SEED}):"]
    for i, what, body, problem in failures[:15]:
        path = folder / f"{target.replace('/', '_')}-{i}.json"
        path.write_bytes(body)
        lines.append(f"- mutant {i} ({'; '.join(what)}): {problem}\n  body ({len(body)} bytes) in {path}; resend: "
                     f"curl -X POST -H 'Content-Type: application/fhir+json' --data-binary @{path} '{url}'\n"
                     f"  starts: {body[:300]!r}")
    return "\n".join(lines)


def _fuzz(target: Target, count: int) -> Counter:
    """Sends each message as it is, then `count` mutants of them; fails with every bad answer."""
    statuses: Counter = Counter()
    failures = []
    # A connection per request: a party that drops one is seen doing it, not blamed on a stale pool.
    with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for k, message in enumerate(target.messages):
            answer = _send(client, target.url, json.dumps(_fresh_ids(message)).encode())
            statuses[f"original {answer.status}"] += 1
            if answer.problem:
                failures.append((-1 - k, ["as published or built"], json.dumps(message).encode(), answer.problem))
        for i in range(count):
            rng = random.Random(f"{SEED}:{target.name}:{i}")
            mutant = mutate(_fresh_ids(rng.choice(target.messages)), rng)
            answer = _send(client, target.url, mutant.body)
            statuses[answer.status] += 1
            if answer.problem:
                failures.append((i, mutant.what, mutant.body, answer.problem))
    assert not failures, _report(failures, target.name, target.url)
    return statuses


@pytest.fixture(scope="module")
def messages(fuzz_stack) -> dict[str, list[dict]]:
    known = asyncio.run(_known(fuzz_stack))
    return {**_messages(fuzz_stack, known), "known": known}


@pytest.mark.parametrize("party", PARTIES)
def test_mutated_messages_never_get_a_5xx_at_the_inbox(fuzz_stack, messages, party):
    print(f"body mutation: FUZZ_SEED={SEED}, {MUTATIONS} mutants (FUZZ_MUTATIONS) for the {party}'s inbox")
    target = Target(f"{party}-inbox", fuzz_stack.url(party) + INBOX[party], messages[party])
    statuses = _fuzz(target, MUTATIONS)
    print(f"{party}: answers by status {dict(sorted(statuses.items(), key=str))}")
    # Some mutants got past the reader and validation: taken (2xx) or refused by the party's rules.
    assert sum(n for s, n in statuses.items() if isinstance(s, int) and (s < 300 or s in (404, 409, 422))), statuses


def _referral(fuzz_stack, known) -> dict:
    """A ServiceRequest the GP system takes (POST /{ods}/ServiceRequest), for the known service's specialty."""
    service = httpx.get(f"{fuzz_stack.url('broker')}/HealthcareService/{known.service_id}", timeout=30,
                        headers={"Accept": "application/fhir+json"}).json()
    specialty = next(c for t in service["type"] for c in t["coding"] if c["system"] == SPECIALTY_SYSTEM)
    return {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
            "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": known.nhs_number}},
            "code": {"coding": [{"system": SPECIALTY_SYSTEM, "code": specialty["code"]}]}}


@pytest.fixture(scope="module")
def gp_operations(fuzz_stack, messages) -> list[Target]:
    """The GP system's other FHIR bodies: a referral created, then booked ($book) or referred ($refer)."""
    known = messages["known"]
    referral = _referral(fuzz_stack, known)
    base = f"{fuzz_stack.url('gp')}/{known.practice_ods}"

    def created() -> str:
        r = httpx.post(f"{base}/ServiceRequest", json=referral, headers={**FHIR, **_trace()}, timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    book = {"resourceType": "Parameters", "parameter": [{"name": "start", "valueDateTime": known.slot_start}]}
    refer = {"resourceType": "Parameters", "parameter": [{"name": "service", "valueString": known.service_id}]}
    return [Target("gp-create-referral", f"{base}/ServiceRequest", [referral]),
            Target("gp-book", f"{base}/ServiceRequest/{created()}/$book", [book]),
            Target("gp-refer", f"{base}/ServiceRequest/{created()}/$refer", [refer])]


@pytest.mark.parametrize("which", range(3), ids=["ServiceRequest", "$book", "$refer"])
def test_mutated_bodies_never_get_a_5xx_at_the_gp_operations(gp_operations, which):
    target = gp_operations[which]
    statuses = _fuzz(target, MUTATIONS // 4)
    print(f"{target.name}: answers by status {dict(sorted(statuses.items(), key=str))}")


def test_every_party_is_healthy_after_the_mutants(fuzz_stack):
    assert fuzz_stack.unhealthy() == {}
    for party in PARTIES:
        r = httpx.get(f"{fuzz_stack.base(party)}/metadata", headers={"Accept": "application/fhir+json"}, timeout=30)
        assert r.status_code == 200 and r.json()["resourceType"] == "CapabilityStatement", (party, r.text[:300])

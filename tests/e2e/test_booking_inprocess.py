"""One booking and many, end to end through all four parties, wired in-process."""

from __future__ import annotations

from party_common.booking import BookingFacts, practice_message
from party_common.identifiers import UBRN_SYSTEM
from harness.run.workload import Workload, discover
from tests.stack_inprocess import inprocess_stack

FHIR = {"Content-Type": "application/fhir+json"}


def _ubrns(bundle: dict) -> dict[str, str]:
    out = {}
    for e in bundle.get("entry", []):
        appt = e["resource"]
        for ident in appt.get("identifier", []):
            if ident["system"] == UBRN_SYSTEM:
                out[ident["value"]] = appt["status"]
    return out


async def _all(client, url: str) -> dict[str, str]:
    found: dict[str, str] = {}
    while url:
        bundle = (await client.get(url)).json()
        found.update(_ubrns(bundle))
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    return found


async def _views(client, urls) -> dict[str, dict[str, str]]:
    views = {"broker": await _all(client, f"{urls.broker}/Appointment?_count=50"),
             "spine": await _all(client, f"{urls.spine}/Appointment?_count=50"), "pas": {}, "gp": {}}
    for org in (await client.get(f"{urls.pas}/Organization")).json()["entry"]:
        ods = org["resource"]["identifier"][0]["value"]
        views["pas"].update(await _all(client, f"{urls.pas}/{ods}/Appointment?_count=50"))
    for org in (await client.get(f"{urls.gp}/Organization")).json()["entry"]:
        ods = org["resource"]["identifier"][0]["value"]
        views["gp"].update(await _all(client, f"{urls.gp}/{ods}/Appointment?_count=50"))
    return views


async def test_bookings_reach_every_party(tmp_path):
    async with inprocess_stack(tmp_path) as (urls, client, _apps):
        population = await discover(client, urls)
        results = await Workload(urls, population, seed=3, bookings=40, concurrency=4).run(client)
        accepted = {r.ubrn for r in results if r.outcome == "accepted"}
        assert len(accepted) == 40, [r for r in results if r.outcome != "accepted"][:3]
        views = await _views(client, urls)
        for party in ("broker", "pas", "spine", "gp"):
            assert set(views[party]) == accepted, party
            assert set(views[party].values()) == {"booked"}, party
        links = (await client.get(f"{urls.broker}/links")).json()["links"]
        assert links["broker->spine"]["outcomes"] == {"delivered": 80}  # UBRN + index report per booking
        assert sum(v["attempts"] for k, v in links.items() if k.startswith("gp:")) == 40


async def test_same_seed_asks_for_the_same_bookings(tmp_path):
    async with inprocess_stack(tmp_path) as (urls, client, _apps):
        population = await discover(client, urls)
        a = Workload(urls, population, seed=11, bookings=5)
        b = Workload(urls, population, seed=11, bookings=5)
        c = Workload(urls, population, seed=12, bookings=5)
        assert [a.plan(i) for i in range(5)] == [b.plan(i) for i in range(5)]
        assert [a.plan(i) for i in range(5)] != [c.plan(i) for i in range(5)]


async def _referral(client, urls, practice: str, nhs: str) -> str:
    body = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}},
            "code": {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/testbed-specialty", "code": "cardiology"}]}}
    r = await client.post(f"{urls.gp}/{practice}/ServiceRequest", json=body, headers=FHIR)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _book(client, urls, practice, referral, slot, service):
    params = {"resourceType": "Parameters", "parameter": [{"name": "slot", "valueString": slot},
                                                           {"name": "service", "valueString": service}]}
    return await client.post(f"{urls.gp}/{practice}/ServiceRequest/{referral}/$book", json=params, headers=FHIR)


async def test_cancel_reaches_every_party_and_frees_the_slot(tmp_path):
    async with inprocess_stack(tmp_path) as (urls, client, _apps):
        population = await discover(client, urls)
        practice = sorted(population.practices)[0]
        nhs1, nhs2 = population.practices[practice][:2]
        service = next(s for s, spec in population.services if spec == "cardiology")
        slot = (await client.get(f"{urls.broker}/Slot", params={"service": service})).json()["entry"][0]["resource"]
        r = await _book(client, urls, practice, await _referral(client, urls, practice, nhs1), slot["id"], service)
        assert r.status_code == 200, r.text
        ubrn = next(iter(_ubrns(r.json())))

        # A second patient cannot have the same slot: the trust's 409 reaches the practice.
        r2 = await _book(client, urls, practice, await _referral(client, urls, practice, nhs2), slot["id"], service)
        assert r2.status_code == 409, r2.text
        assert r2.json()["issue"][0]["code"] == "conflict"

        gp_view = await _all(client, f"{urls.gp}/{practice}/Appointment")
        local_id = next(e["resource"]["id"] for e in (await client.get(
            f"{urls.gp}/{practice}/Appointment", params={"identifier": f"{UBRN_SYSTEM}|{ubrn}"})).json()["entry"])
        assert gp_view[ubrn] == "booked"
        r = await client.post(f"{urls.gp}/{practice}/Appointment/{local_id}/$cancel", headers=FHIR)
        assert r.status_code == 200, r.text
        views = await _views(client, urls)
        for party in ("broker", "pas", "spine", "gp"):
            assert views[party][ubrn] == "cancelled", party
        trust = service.split("-")[0].upper()
        freed = (await client.get(f"{urls.pas}/{trust}/Slot/{slot['id']}")).json()
        assert freed["status"] == "free"


async def test_broker_answers_a_repeated_request_once(tmp_path):
    """FHIR reliable messaging at the broker: the same Bundle.id books once and answers the same."""
    async with inprocess_stack(tmp_path) as (urls, client, _apps):
        population = await discover(client, urls)
        practice = sorted(population.practices)[0]
        nhs = population.practices[practice][0]
        service = population.services[0][0]
        slot = (await client.get(f"{urls.broker}/Slot", params={"service": service})).json()["entry"][0]["resource"]
        facts = BookingFacts(ubrn=None, nhs_number=nhs, trust_ods=None, gp_ods=practice, service_id=service,
                             slot_id=slot["id"], start=slot["start"], end=slot["end"])
        msg = practice_message("booking-request", facts)
        first = await client.post(f"{urls.broker}/$process-message", json=msg, headers=FHIR)
        again = await client.post(f"{urls.broker}/$process-message", json=msg, headers=FHIR)
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        ledger = (await client.get(f"{urls.broker}/Appointment")).json()
        assert ledger["total"] == 1


async def test_every_party_exports_its_bookings_as_ndjson(tmp_path):
    import json

    async with inprocess_stack(tmp_path) as (urls, client, _apps):
        population = await discover(client, urls)
        await Workload(urls, population, seed=4, bookings=12, concurrency=4).run(client)
        views = await _views(client, urls)
        exported = {"broker": {}, "spine": {}, "pas": {}, "gp": {}}
        targets = [("broker", f"{urls.broker}/Appointment/$export"), ("spine", f"{urls.spine}/Appointment/$export")]
        targets += [("pas", f"{urls.pas}/RT{i}/Appointment/$export") for i in range(1, 5)]
        targets += [("gp", f"{urls.gp}/Y9000{i}/Appointment/$export") for i in range(1, 5)]
        for party, url in targets:
            r = await client.get(url)
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+ndjson"), url
            for line in r.text.splitlines():
                appt = json.loads(line)
                assert appt["resourceType"] == "Appointment"
                exported[party][appt["identifier"][0]["value"]] = appt["status"]
        assert exported == views


async def test_the_same_scenario_through_the_practices_twice_journals_the_same(tmp_path):
    """The full path (GP referral, slot search, booking) rerun on a fresh stack: same journal."""
    from party_common.journal_entries import WALL_CLOCK_FIELDS

    rules = [{"link": "broker->pas:*", "event": "booking-request", "action": "drop", "probability": 0.4},
             {"link": "broker->gp:*", "action": "duplicate", "every": {"k": 1, "n": 3}}]
    journals = []
    for run in range(2):
        async with inprocess_stack(tmp_path / f"run{run}") as (urls, client, _apps):
            population = await discover(client, urls)
            assert (await client.put(f"{urls.broker}/faults", json={"seed": 5, "rules": rules})).status_code == 200
            head = (await client.get(f"{urls.broker}/journal", params={"_count": 1})).json()["head"]
            await Workload(urls, population, seed=5, bookings=25, concurrency=1, id_salt=str(head)).run(client)
            entries = (await client.get(f"{urls.broker}/journal", params={"_count": 5000})).json()["entries"]
            journals.append([{k: v for k, v in e.items() if k not in WALL_CLOCK_FIELDS} for e in entries])
    assert len(journals[0]) > 25 * 5
    assert any(e["link"].startswith("gp:") and e["bundle_id"] for e in journals[0])
    assert journals[0] == journals[1]

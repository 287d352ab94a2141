"""Every party's error answers carry the BaRS code of their status and role, and each party answers
406 to an Accept it cannot serve."""

from __future__ import annotations

import httpx
import orjson
import pytest

from party_common.identifiers import nhs_number_from_index
from party_common.outcome import HTTP_ERROR_SYSTEM
from tests.booking_broker import direct_driver as dd
from tests.stack_inprocess import inprocess_stack
from tests.trust_pas import helpers as pas

FHIR = {"Content-Type": "application/fhir+json"}
# A well-formed NHS number far beyond the synthetic population.
UNKNOWN_NHS = next(n for n in (nhs_number_from_index(i) for i in range(900_000, 900_100)) if n)


def _bars(r: httpx.Response) -> set[str]:
    body = r.json()
    assert body["resourceType"] == "OperationOutcome", body
    codes = set()
    for issue in body["issue"]:
        (coding,) = issue["details"]["coding"]
        assert coding["system"] == HTTP_ERROR_SYSTEM
        codes.add(coding["code"])
    return codes


@pytest.fixture
async def stack(tmp_path):
    async with inprocess_stack(tmp_path, population_size=30) as (urls, client, apps):
        yield urls, client, apps


async def test_each_receiver_codes_its_errors_rec(stack):
    urls, client, _apps = stack
    (service, slot), = [(sv, sl) for sv, sl in await dd.slot_pool(client, urls, per_service=1)
                        if sv.startswith("rt1-")][:1]
    practice, nhs = (await dd.patients(client, urls))[0]
    pas_inbox = f"{urls.pas}/RT1/$process-message"
    booked = pas.booking(slot, ubrn_value=pas.ubrn(1), service=service, nhs=nhs)
    rival = pas.booking(slot, ubrn_value=pas.ubrn(2), service=service, nhs=nhs)

    cases = [
        # (request, status, code), each request made when its case is checked
        (lambda: client.get(f"{urls.spine}/Patient/123"), 400, "REC_BAD_REQUEST"),
        (lambda: client.get(f"{urls.spine}/Patient/{UNKNOWN_NHS}"), 404, "REC_NOT_FOUND"),
        (lambda: client.delete(f"{urls.spine}/Patient/{nhs}"), 405, "REC_METHOD_NOT_ALLOWED"),
        (lambda: client.post(f"{urls.spine}/$allocate-ubrn", json={"resourceType": "Parameters", "parameter": [
            {"name": "nhsNumber", "valueString": UNKNOWN_NHS}]}, headers=FHIR), 422, "REC_UNPROCESSABLE_ENTITY"),
        (lambda: client.get(f"{urls.pas}/XX9/Slot"), 404, "REC_NOT_FOUND"),
        (lambda: client.post(pas_inbox, content=b"{nope", headers=FHIR), 400, "REC_BAD_REQUEST"),
        (lambda: client.post(pas_inbox, content=orjson.dumps(booked), headers={"Content-Type": "text/plain"}), 415,
         "REC_NOT_ACCEPTABLE"),
        (lambda: client.get(f"{urls.gp}/{practice}/ServiceRequest/nope"), 404, "REC_NOT_FOUND"),
        (lambda: client.get(f"{urls.gp}/nowhere/at/all"), 404, "REC_NOT_FOUND"),
        (lambda: client.get(f"{urls.gp}/{practice}/Appointment", params={"_count": "lots"}), 400, "REC_BAD_REQUEST"),
    ]
    for call, status, code in cases:
        r = await call()
        assert (r.status_code, _bars(r)) == (status, {code}), (str(r.request.url), r.text)
    # A slot held by another booking: 409 from the PAS.
    assert (await client.post(pas_inbox, content=orjson.dumps(booked), headers=FHIR)).status_code == 200
    r = await client.post(pas_inbox, content=orjson.dumps(rival), headers=FHIR)
    assert (r.status_code, _bars(r)) == (409, {"REC_CONFLICT"}), r.text


@pytest.mark.parametrize("accept", ["application/fhir+xml", "text/html"])
async def test_every_party_answers_406_to_an_accept_it_cannot_serve(stack, accept):
    urls, client, _apps = stack
    paths = {"spine": f"{urls.spine}/metadata", "pas": f"{urls.pas}/RT1/HealthcareService",
             "gp": f"{urls.gp}/Organization", "broker": f"{urls.broker}/HealthcareService"}
    for party, url in paths.items():
        r = await client.get(url, headers={"Accept": accept})
        expected = "SEND_NOT_ACCEPTABLE" if party == "broker" else "REC_NOT_ACCEPTABLE"
        assert (r.status_code, _bars(r)) == (406, {expected}), party
        for fine in ("*/*", "application/json", "application/fhir+json; fhirVersion=4.0"):
            assert (await client.get(url, headers={"Accept": fine})).status_code == 200, (party, fine)
    # A message posted with an Accept nobody can serve is not processed.
    pool = await dd.slot_pool(client, urls, per_service=1)
    (service, slot), (practice, nhs) = pool[0], (await dd.patients(client, urls))[0]
    message = dd.request_message(12, 0, practice, nhs, service, slot, urls.broker)
    r = await client.post(f"{urls.broker}/$process-message", content=orjson.dumps(message),
                          headers={**FHIR, "Accept": accept})
    assert r.status_code == 406
    assert await dd.ubrns_at(client, f"{urls.broker}/Appointment") == []


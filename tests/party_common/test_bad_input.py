"""Bad input is the sender's fault: every party answers it with a 4xx OperationOutcome, never a 500."""

from __future__ import annotations

import orjson
import pytest
import pytest_asyncio

from tests.stack_inprocess import inprocess_stack

# One stack for the module: these requests change nothing, and starting four parties is the cost.
pytestmark = pytest.mark.asyncio(loop_scope="module")

FHIR = {"Content-Type": "application/fhir+json"}

# Where each party takes messages, and a path parameter value that names something it has.
INBOXES = {"spine": "/$process-message", "pas": "/RT1/$process-message", "gp": "/Y90001/$process-message",
           "broker": "/$process-message"}
PATH_VALUES = {"spine": {}, "pas": {"ods": "RT1"}, "gp": {"ods": "Y90001"}, "broker": {}}

BAD_RESOURCE_TYPES = [
    7,
    None,
    True,
    ["Appointment"],
    {"resourceType": "Appointment"},
    "Apointment",
    "",
    "EffectEvidenceSynthesis",   # an R4 resource that R4B, which every party validates with, lacks
    "Coding",                    # a datatype, not a resource
    "Appointment" * 10_000,
]


def _message_with(resource: dict) -> dict:
    """A message Bundle whose fourth entry (after header, Appointment, Patient) is `resource`."""
    return {
        "resourceType": "Bundle", "id": "bad-input-1", "type": "message",
        "timestamp": "2026-01-05T09:00:00Z",
        "entry": [
            {"fullUrl": "urn:uuid:3f0b8f8e-0000-4000-8000-000000000001",
             "resource": {"resourceType": "MessageHeader", "id": "3f0b8f8e-0000-4000-8000-000000000001",
                          "eventCoding": {"system": "https://fhir.nhs.uk/CodeSystem/message-events-bars",
                                          "code": "booking-request"},
                          "source": {"endpoint": "http://gp.test/Y90001"},
                          "focus": [{"reference": "urn:uuid:3f0b8f8e-0000-4000-8000-000000000002"}]}},
            {"fullUrl": "urn:uuid:3f0b8f8e-0000-4000-8000-000000000002",
             "resource": {"resourceType": "Appointment", "status": "proposed",
                          "participant": [{"status": "needs-action"}]}},
            {"fullUrl": "urn:uuid:3f0b8f8e-0000-4000-8000-000000000003",
             "resource": {"resourceType": "Patient"}},
            {"fullUrl": "urn:uuid:3f0b8f8e-0000-4000-8000-000000000004", "resource": resource},
        ],
    }


def _is_outcome(response) -> bool:
    try:
        return response.json().get("resourceType") == "OperationOutcome"
    except ValueError:
        return False


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory):
    async with inprocess_stack(tmp_path_factory.mktemp("bad-input"), population_size=50) as running:
        yield running


@pytest.mark.parametrize("rtype", BAD_RESOURCE_TYPES, ids=lambda v: repr(v)[:30])
@pytest.mark.parametrize("party", list(INBOXES))
async def test_an_entry_of_no_known_resource_type_is_a_400_naming_it(stack, party, rtype):
    urls, client, _ = stack
    body = orjson.dumps(_message_with({"resourceType": rtype, "id": "x"}))
    r = await client.post(f"{getattr(urls, party)}{INBOXES[party]}", content=body, headers=FHIR)
    assert r.status_code == 400, r.text
    issue = r.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[3].resource.resourceType"]


@pytest.mark.parametrize("party", list(INBOXES))
async def test_a_bad_resource_type_deep_inside_is_named_where_it_is(stack, party):
    urls, client, _ = stack
    appointment = {"resourceType": "Appointment", "status": "booked", "participant": [{"status": "accepted"}],
                   "contained": [{"resourceType": "Patient"}, {"resourceType": 7}]}
    r = await client.post(f"{getattr(urls, party)}{INBOXES[party]}", content=orjson.dumps(_message_with(appointment)),
                          headers=FHIR)
    assert r.status_code == 400, r.text
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[3].resource.contained[1].resourceType"]


@pytest.mark.parametrize("endpoint", [{}, ["http://gp.test/Y90001"], {"reference": "x"}], ids=repr)
@pytest.mark.parametrize("party", list(INBOXES))
async def test_an_object_or_array_where_a_url_belongs_is_a_400_naming_it(stack, party, endpoint):
    """fhir.resources raises a TypeError (not a validation error) for these: found by the BaRS-spec fuzz."""
    urls, client, _ = stack
    message = _message_with({"resourceType": "Patient"})
    message["entry"][0]["resource"]["source"]["endpoint"] = endpoint
    r = await client.post(f"{getattr(urls, party)}{INBOXES[party]}", content=orjson.dumps(message), headers=FHIR)
    assert r.status_code == 400, r.text
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.source.endpoint"]


@pytest.mark.parametrize("party", list(INBOXES))
async def test_a_null_property_is_a_400_naming_it(stack, party):
    """R4B reads `"coding": null` as left out; the parties, reading the JSON as sent, failed on it with a
    500 (found by the body-mutation fuzz). FHIR JSON has no null values."""
    urls, client, _ = stack
    message = _message_with({"resourceType": "Patient"})
    message["entry"][0]["resource"]["reason"] = {"coding": None}
    r = await client.post(f"{getattr(urls, party)}{INBOXES[party]}", content=orjson.dumps(message), headers=FHIR)
    assert r.status_code == 400, r.text
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.reason.coding"]


@pytest.mark.parametrize("party", list(INBOXES))
async def test_a_number_where_a_date_time_belongs_is_a_400_naming_it(stack, party):
    """R4B takes 1.5 for Appointment.end; the PAS then failed on it with a 500 (body-mutation fuzz)."""
    urls, client, _ = stack
    message = _message_with({"resourceType": "Patient"})
    message["entry"][1]["resource"]["end"] = 1.5
    r = await client.post(f"{getattr(urls, party)}{INBOXES[party]}", content=orjson.dumps(message), headers=FHIR)
    assert r.status_code == 400, r.text
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.end"]


async def test_a_parameters_resource_of_no_known_type_is_a_400(stack):
    urls, client, _ = stack
    body = {"resourceType": "Parameters", "parameter": [{"name": "x", "resource": {"resourceType": "Nope"}}]}
    r = await client.post(f"{urls.spine}/$allocate-ubrn", content=orjson.dumps(body), headers=FHIR)
    assert r.status_code == 400, r.text
    assert r.json()["issue"][0]["expression"] == ["Parameters.parameter[0].resource.resourceType"]


def _read_paths(app) -> list[str]:
    """Every GET path the party publishes (from its OpenAPI document, which lists included routers)."""
    return sorted(path for path, operations in app.openapi()["paths"].items() if "get" in operations)


BAD_NUMBERS = ["99999999999999999999", "9223372036854775808", "-1", "-99999999999999999999", "1e3", "1.5", "x"]


@pytest.mark.parametrize("party", list(INBOXES))
async def test_huge_or_negative_paging_parameters_are_refused_or_capped_on_every_search(stack, party):
    urls, client, apps = stack
    base = getattr(urls, party)
    failures = []
    paths = _read_paths(apps[party])
    assert len(paths) > 3
    for path in paths:
        if path.endswith("/$export") or path == "/metrics":
            continue  # no paging; a stream or text
        url = base + path.format_map(_AnyId(PATH_VALUES[party]))
        for name in ("_offset", "_count", "since"):
            for value in BAD_NUMBERS:
                r = await client.get(url, params={name: value})
                if r.status_code >= 500 or (r.status_code >= 400 and not _is_outcome(r)):
                    failures.append(f"GET {path}?{name}={value}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("party,path", [("spine", "/Appointment"), ("pas", "/RT1/Appointment"),
                                        ("gp", "/Y90001/Appointment"), ("broker", "/Appointment")])
async def test_an_offset_past_any_database_integer_is_a_400_naming_it(stack, party, path):
    urls, client, _ = stack
    r = await client.get(getattr(urls, party) + path, params={"_offset": "99999999999999999999"})
    assert r.status_code == 400, r.text
    assert "_offset" in r.json()["issue"][0]["expression"][0]


async def test_the_journal_refuses_a_huge_since(stack):
    urls, client, _ = stack
    r = await client.get(f"{urls.broker}/journal", params={"since": "99999999999999999999"})
    assert r.status_code == 400 and _is_outcome(r), r.text


class _AnyId(dict):
    """Any other path parameter: an id that names nothing (a 404 is a fine answer)."""

    def __missing__(self, key):
        return "no-such-id"

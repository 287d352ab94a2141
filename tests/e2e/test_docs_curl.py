"""docs/api.md, "A BaRS booking with curl": the example body and the headers the section shows book
on a stack with the default population, once the slot times are changed the way the section says;
and each header value is what the section says it is.

Everything is read from the doc itself (the slot search, the sed substitution, the curl headers, the
decoded header values), so the doc cannot drift from what is tested.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import uuid
from pathlib import Path

import httpx
import pytest

from party_common import bars_headers
from party_common.http_client import RoutingTransport
from party_common.identifiers import DOS_SYSTEM, ODS_SYSTEM, UBRN_SYSTEM, dos_id
from party_common.settings import PartySettings
from tests.e2e.bars_examples import MessageSchema
from tests.stack_inprocess import inprocess_stack, mount

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "api.md"
BODY = "docs/examples/bars-booking-request.json"
SERVICE, PRACTICE, TRUST, NHS_NUMBER = "rt1-rt101-cardiology", "Y90001", "RT1", "9990000034"
DEFAULT_SEED = PartySettings.model_fields["population_seed"].default
DEFAULT_SIZE = PartySettings.model_fields["population_size"].default


def section() -> str:
    text = DOC.read_text()
    start = text.index("## A BaRS booking with curl")
    following = text.find("\n## ", start + 1)
    return text[start:following if following != -1 else len(text)]


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.DOTALL)


def curl_commands(text: str) -> list[tuple[str, dict[str, str]]]:
    """Each curl command the section shows: (URL as written, its -H headers); continuations joined."""
    found = []
    for block in shell_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for i, word in enumerate(words):
                if word in ("curl", "<(curl"):
                    rest = words[i + 1:]
                    rest = rest[:rest.index("|")] if "|" in rest else rest
                    url = next(w for w in rest if w.startswith(("$BROKER", "http")))
                    headers = dict(rest[j + 1].split(": ", 1) for j, w in enumerate(rest) if w == "-H")
                    found.append((url, headers))
    return found


def broker_call(text: str, part: str) -> tuple[str, dict[str, str]]:
    return next((url, headers) for url, headers in curl_commands(text) if url.startswith("$BROKER") and part in url)


def doc_headers(text: str) -> dict[str, str]:
    """The headers of the curl command that posts the message."""
    return broker_call(text, "$process-message")[1]


def substitutions(text: str) -> dict[str, str]:
    """The sed expressions that put the slot's times in: {example time: shell variable}."""
    block = next(b for b in shell_blocks(text) if "sed " in b)
    return {old: var for old, var in re.findall(r'"s/([^/]+)/\$(\w+)/g"', block)}


def decoded_in_doc(text: str) -> dict[str, str]:
    """Header -> the JSON the section's header table says its base64 value holds."""
    return dict(re.findall(r"^\| `([A-Za-z-]+)` \| base64 of `([^`]+)`", text, re.MULTILINE))


def test_the_doc_names_the_file_and_the_defaults_it_relies_on():
    text = section()
    assert f"--data @{BODY}" in text and "--data @booking.json" in text
    assert f"`{BODY}`" in text and (REPO / BODY).is_file()
    # The defaults the body's values come from: `testbed up` with no options.
    assert (DEFAULT_SEED, DEFAULT_SIZE) == (1, 2000)
    body = json.loads((REPO / BODY).read_text())
    header = body["entry"][0]["resource"]
    assert header["destination"][0]["endpoint"] == f"{DOS_SYSTEM}|{dos_id('service', SERVICE)}"
    assert header["source"]["endpoint"] == f"{DOS_SYSTEM}|{dos_id('practice', PRACTICE)}"
    assert f"`{dos_id('service', SERVICE)}`" in text or f"|{dos_id('service', SERVICE)}`" in text
    assert f"`{dos_id('trust', TRUST)}`" in text and f"`{dos_id('practice', PRACTICE)}`" in text


def test_every_broker_call_carries_trace_headers_and_each_header_decodes_to_what_the_doc_says():
    text = section()
    calls = [(url, h) for url, h in curl_commands(text) if url.startswith("$BROKER")]
    assert len(calls) == 3     # the slot search, the booking, the ledger
    for url, h in calls:
        for name in ("X-Request-ID", "X-Correlation-ID"):
            assert str(uuid.UUID(h[name])) == h[name], (url, name)
    assert len({h["X-Request-ID"] for _, h in calls}) == 3          # one request id per call
    assert len({h["X-Correlation-ID"] for _, h in calls}) == 1      # one correlation id for the exchange

    headers = doc_headers(text)
    assert headers["Content-Type"] == "application/fhir+json"
    said = decoded_in_doc(text)
    assert set(said) == {bars_headers.TARGET_IDENTIFIER, bars_headers.END_USER_ORGANISATION}
    for name, shown in said.items():
        # Byte for byte: `printf '%s' '<JSON>' | base64 -w0` gives exactly the value in the curl command.
        assert base64.b64decode(headers[name], validate=True).decode() == shown, name
        assert base64.b64encode(shown.encode()).decode() == headers[name], name
    target = json.loads(said[bars_headers.TARGET_IDENTIFIER])
    assert target == {"value": dos_id("service", SERVICE), "system": DOS_SYSTEM}
    org = json.loads(said[bars_headers.END_USER_ORGANISATION])
    assert org["resourceType"] == "Organization"
    assert org["identifier"] == [{"system": ODS_SYSTEM, "value": PRACTICE}]
    # And the broker reads them so.
    assert bars_headers.target_identifier(headers) == (DOS_SYSTEM, dos_id("service", SERVICE))
    assert bars_headers.end_user_ods(headers) == PRACTICE


async def test_the_doc_booking_books_through_the_broker(tmp_path, reference_dir):
    text = section()
    raw = (REPO / BODY).read_text()
    subs = substitutions(text)
    assert sorted(subs.values()) == ["END", "START"]
    schema = MessageSchema(reference_dir / "schemas" / "MessageBundle.yaml")
    assert schema.errors(json.loads(raw)) == []
    search_url, search_headers = broker_call(text, "/Slot?")
    _, headers = broker_call(text, "$process-message")
    ledger_url, ledger_headers = broker_call(text, "/Appointment?")

    async with inprocess_stack(tmp_path, population_size=DEFAULT_SIZE) as (urls, client, apps):
        # The practice and patient the body names are the default population's.
        patient = (await client.get(f"{urls.spine}/Patient/{NHS_NUMBER}")).json()
        assert patient["generalPractitioner"][0]["identifier"]["value"] == PRACTICE
        # A client that sends only what the doc's curl commands send (the stack's own client adds
        # trace headers to every request).
        async with httpx.AsyncClient(transport=mount(RoutingTransport(), apps)) as curl:
            found = await curl.get(search_url.replace("$BROKER", urls.broker), headers=search_headers)
            assert found.status_code == 200, found.text
            slot = found.json()["entry"][0]["resource"]
            times = {"START": slot["start"], "END": slot["end"]}
            body = raw
            for old, var in subs.items():
                assert raw.count(old) == 2, old      # the Appointment's and the Slot's, nothing else
                body = body.replace(old, times[var])
            sent = json.loads(body)
            assert sent == _times_replaced(json.loads(raw), slot["start"], slot["end"])   # only the times changed

            r = await curl.post(f"{urls.broker}/$process-message", content=body.encode(), headers=headers)
            assert r.status_code == 200, r.text
            assert r.headers["x-request-id"] == headers["X-Request-ID"]
            assert r.headers["x-correlation-id"] == headers["X-Correlation-ID"]
            answer = r.json()
            assert schema.errors(answer) == []
            assert answer["entry"][0]["resource"]["response"] == {"identifier": sent["id"], "code": "ok"}
            resources = [e["resource"] for e in answer["entry"]]
            appt = next(res for res in resources if res["resourceType"] == "Appointment")
            ubrn = next(i["value"] for i in appt["identifier"] if i["system"] == UBRN_SYSTEM)
            assert re.fullmatch(r"\d{12}", ubrn)
            assert f"# {ubrn}   (the first UBRN a fresh spine allocates)" in text
            assert next(res for res in resources if res["resourceType"] == "Slot")["id"] == slot["id"]

            ledger = await curl.get(ledger_url.replace("$BROKER", urls.broker), headers=ledger_headers)
            assert ledger.status_code == 200, ledger.text
            assert [e["resource"]["status"] for e in ledger.json()["entry"]] == ["booked"]

        pas = (await client.get(f"{urls.pas}/{TRUST}/Appointment", params={"identifier": f"{UBRN_SYSTEM}|{ubrn}"}))
        assert [(e["resource"]["status"], e["resource"]["start"]) for e in pas.json()["entry"]] == \
            [("booked", slot["start"])]


def _times_replaced(bundle: dict, start: str, end: str) -> dict:
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] in ("Appointment", "Slot"):
            res["start"], res["end"] = start, end
    return bundle

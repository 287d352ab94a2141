"""Reading the parties over HTTP: bulk export where offered, pages otherwise, one-line failures."""

from __future__ import annotations

import httpx
import orjson
import pytest

from harness.stack.endpoints import StackUrls
from harness.reconcile.sources import PartyUnreachable, read_stack
from party_common.booking import BookingFacts, appointment_resource
from party_common.bundles import searchset
from party_common.identifiers import ODS_SITE_SYSTEM, ODS_SYSTEM

URLS = StackUrls(broker="http://b.test", spine="http://s.test/fhir", pas="http://p.test", gp="http://g.test")


def appt(ubrn, trust="RT1", gp="Y90001", status="booked"):
    return appointment_resource(BookingFacts(ubrn=ubrn, nhs_number="9990000018", trust_ods=trust, gp_ods=gp,
                                             service_id="RT1-card", slot_id=f"RT1-card-{ubrn}",
                                             start="2027-01-04T09:30:00Z", end="2027-01-04T09:45:00Z", status=status))


def ndjson(*items) -> httpx.Response:
    return httpx.Response(200, content=b"".join(orjson.dumps(a) + b"\n" for a in items),
                          headers={"content-type": "application/fhir+ndjson"})


def bundle(items, base, path, offset=0, count=2, total=None):
    return httpx.Response(200, json=searchset(items, total=total if total is not None else len(items), base_url=base,
                                              path=path, offset=offset, count=count))


def handler(fail_page: bool = False):
    def handle(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        path = request.url.path
        if url.startswith(URLS.broker):
            return ndjson(appt("1"), appt("2"), appt("3"))
        if url.startswith(URLS.spine):
            if path.endswith("$export"):
                return httpx.Response(405, json={"resourceType": "OperationOutcome", "issue": []})
            offset = int(request.url.params.get("_offset", 0))
            items = [appt("1"), appt("2"), appt("3")][offset:offset + 2]
            if fail_page and offset:
                return httpx.Response(500, json={})
            return bundle(items, URLS.spine, "Appointment", offset=offset, total=3)
        if url.startswith(URLS.pas):
            if path == "/Organization":
                return httpx.Response(200, json=searchset([
                    {"resourceType": "Organization", "id": "RT1", "identifier": [{"system": ODS_SYSTEM, "value": "RT1"}]},
                    {"resourceType": "Location", "id": "RT1-01", "identifier": [{"system": ODS_SITE_SYSTEM, "value": "RT101"}]},
                    {"resourceType": "Organization", "id": "RT2"}], total=3, base_url=URLS.pas, path="Organization"))
            if path == "/RT1/Appointment/$export":
                # A trust that leaves its own ODS code out of its records: the reader fills it in.
                no_performer = appt("1")
                no_performer["extension"] = no_performer["extension"][1:]
                return ndjson(no_performer, appt("2"), appt("2"))
            if path == "/RT2/Appointment/$export":
                return httpx.Response(404, json={"resourceType": "OperationOutcome", "issue": []})
            return bundle([appt("9", trust="RT2")], f"{URLS.pas}/RT2", "Appointment")
        if url.startswith(URLS.gp):
            if path == "/Organization":
                return httpx.Response(200, json=searchset([{"resourceType": "Organization", "id": "Y90001",
                                                            "identifier": [{"system": ODS_SYSTEM, "value": "Y90001"}]}],
                                                          total=1, base_url=URLS.gp, path="Organization"))
            return ndjson(appt("1"), appt("2", status="proposed"), {**appt("x"), "identifier": []})
        return httpx.Response(404)
    return handle


async def test_exports_where_offered_pages_otherwise():
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler())) as client:
        out = await read_stack(client, URLS)
    assert out["broker"].read == ["http://b.test/Appointment/$export (export)"]
    assert out["spine"].read == ["http://s.test/fhir/Appointment (2 pages)"] and len(out["spine"]) == 3
    assert out["pas"].read == ["http://p.test/RT1/Appointment/$export (export)", "http://p.test/RT2/Appointment (1 pages)"]
    assert [r[4] for r in out["pas"].get("1")] == ["RT1"]          # filled from the trust it came from
    assert len(out["pas"].get("2")) == 2 and out["pas"].get("9")[0][4] == "RT2"
    assert out["gp"].get("2")[0][0] == "proposed" and out["gp"].unjoined == 1
    # One string object per value, shared across parties.
    assert out["broker"].first["1"][1] is out["spine"].first["1"][1]


async def test_a_party_that_fails_mid_read_is_named():
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler(fail_page=True))) as client:
        with pytest.raises(PartyUnreachable) as err:
            await read_stack(client, URLS)
    assert str(err.value) == "the spine at http://s.test/fhir/Appointment?_count=2&_offset=2 cannot be reached (GET answered 500)"

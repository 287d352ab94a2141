"""A trust's referrals: searched by patient, referral id, status or id, and read one by id."""

from __future__ import annotations

from party_common.booking import REFERRAL_SYSTEM
from party_common.identifiers import NHS_NUMBER_SYSTEM

from .helpers import assert_full_urls_read_back, entries, next_link, patient, post_message, referral


async def _refer(pas, refs: list[tuple[str, str]]) -> list[dict]:
    for referral_id, nhs in refs:
        r = await post_message(pas, referral(referral_id, nhs=nhs))
        assert r.status_code == 200, r.text
    body = (await pas.get("/RT1/ServiceRequest", params={"_count": 100})).json()
    return entries(body)


async def test_referrals_by_patient_referral_id_status_and_id(pas):
    one, two = patient(1), patient(40)
    held = await _refer(pas, [("ref-a", one), ("ref-b", two), ("ref-c", one)])
    assert [sr["identifier"][0]["value"] for sr in held] == ["ref-a", "ref-b", "ref-c"]
    body = (await pas.get("/RT1/ServiceRequest", params={"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{one}"})).json()
    assert body["total"] == 2 and [sr["id"] for sr in entries(body)] == [held[0]["id"], held[2]["id"]]
    for name in ("identifier", "ServiceRequest.identifier"):
        for value in (f"{REFERRAL_SYSTEM}|ref-b", "ref-b"):
            body = (await pas.get("/RT1/ServiceRequest", params={name: value})).json()
            assert [sr["id"] for sr in entries(body)] == [held[1]["id"]], (name, value)
    assert (await pas.get("/RT1/ServiceRequest", params={"identifier": "http://other.example|ref-b"})).json()["total"] == 0
    assert (await pas.get("/RT1/ServiceRequest", params={"status": "active"})).json()["total"] == 3
    assert (await pas.get("/RT1/ServiceRequest", params={"status": "revoked"})).json()["total"] == 0
    body = (await pas.get("/RT1/ServiceRequest", params={"_id": held[2]["id"]})).json()
    assert [sr["id"] for sr in entries(body)] == [held[2]["id"]]
    assert (await pas.get("/RT2/ServiceRequest")).json()["total"] == 0


async def test_paging_includes_and_reads(pas):
    held = await _refer(pas, [(f"ref-{i}", patient(1)) for i in range(3)])
    first = (await pas.get("/RT1/ServiceRequest", params={"_count": 2, "_include": "ServiceRequest:performer"})).json()
    assert first["total"] == 3 and len(entries(first)) == 2
    assert [r["resourceType"] for r in entries(first, "include")] == ["HealthcareService"]
    await assert_full_urls_read_back(pas, first)
    second = (await pas.get(next_link(first))).json()
    assert [sr["id"] for sr in entries(second)] == [held[2]["id"]] and next_link(second) is None
    assert "entry" not in (await pas.get("/RT1/ServiceRequest", params={"_count": 0})).json()
    r = await pas.get(f"/RT2/ServiceRequest/{held[0]['id']}")
    assert r.status_code == 404 and r.json()["resourceType"] == "OperationOutcome"
    assert (await pas.get("/RT1/ServiceRequest/" + "x" * 100)).status_code == 404

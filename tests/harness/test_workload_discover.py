"""`discover` reads every page of the practices and services a stack lists, not only the first."""

from __future__ import annotations

import httpx
import pytest

from harness.run.workload import discover
from harness.stack.endpoints import StackUrls
from party_common.identifiers import NHS_NUMBER_SYSTEM, ODS_SYSTEM, SPECIALTY_SYSTEM

pytestmark = pytest.mark.timeout(30)
URLS = StackUrls.local()


def _paged(request: httpx.Request, resources: list[dict]) -> httpx.Response:
    """Two resources a page, with a `next` link while more remain: as the parties page."""
    at = int(request.url.params.get("_page", 0))
    page = resources[at:at + 2]
    links = [{"relation": "self", "url": str(request.url)}]
    if at + 2 < len(resources):
        links.append({"relation": "next", "url": str(request.url.copy_set_param("_page", str(at + 2)))})
    return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                                     "link": links, "entry": [{"resource": r} for r in page]})


def _stack(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if request.url.port == 8003 and path == "/Organization":
        return _paged(request, [{"resourceType": "Organization", "identifier": [{"system": ODS_SYSTEM, "value": f"Y9000{i}"}]}
                                for i in range(5)])
    if request.url.port == 8003 and path.endswith("/Patient"):
        ods = path.split("/")[1]
        return _paged(request, [{"resourceType": "Patient", "identifier": [{"system": NHS_NUMBER_SYSTEM,
                                                                            "value": f"999{ods[-1]}00000{i}"}]}
                                for i in range(3)])
    if request.url.port == 8000 and path == "/HealthcareService":
        return _paged(request, [{"resourceType": "HealthcareService", "id": f"svc-{i}",
                                 "type": [{"coding": [{"system": SPECIALTY_SYSTEM, "code": "cardiology"}]}],
                                 "providedBy": {"identifier": {"value": f"RT{i}"}}} for i in range(7)])
    if request.url.port == 8000 and path == "/Slot":
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Slot", "start": "2027-01-04T08:30:00Z"}}]})
    return httpx.Response(404)


async def test_every_page_of_practices_and_services_is_read():
    async with httpx.AsyncClient(transport=httpx.MockTransport(_stack)) as client:
        population = await discover(client, URLS, patients_per_practice=10)
    assert sorted(population.practices) == [f"Y9000{i}" for i in range(5)]
    assert all(len(numbers) == 3 for numbers in population.practices.values())
    assert [sid for sid, _ in population.services] == [f"svc-{i}" for i in range(7)]

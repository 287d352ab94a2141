"""Errors at the edge are OperationOutcomes: unknown endpoints, wrong methods."""

from __future__ import annotations

import pytest

from .conftest import PRACTICE


@pytest.mark.parametrize("method, path", [
    ("DELETE", f"/{PRACTICE}/ServiceRequest/abc"),
    ("GET", f"/{PRACTICE}/$process-message"),
    ("PUT", "/Organization"),
    ("GET", f"/{PRACTICE}/ServiceRequest/abc/$book"),
    ("POST", f"/{PRACTICE}/Patient"),
])
async def test_wrong_method_is_405_operation_outcome(stack, method, path):
    resp = await stack.client.request(method, path)
    assert resp.status_code == 405
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-supported"


async def test_unknown_endpoint_is_404_operation_outcome(stack):
    resp = await stack.client.get(f"/{PRACTICE}/Observation/1/extra")
    assert resp.status_code == 404
    assert resp.json()["issue"][0]["code"] == "not-found"


async def test_health(stack):
    body = (await stack.client.get("/health")).json()
    assert body == {"status": "ok", "party": "gp_system"}

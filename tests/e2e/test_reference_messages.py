"""The BaRS reference messages, sent where they belong: never a 500, invalid ones named precisely."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from party_common.outcome import HTTP_ERROR_SYSTEM, bars_code_for
from tests.stack_inprocess import inprocess_stack

FHIR = {"Content-Type": "application/fhir+json"}


def _r4b_valid(raw: bytes) -> bool | None:
    """True/False for parsable JSON; None when the file is not JSON at all."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    try:
        get_fhir_model_class(data["resourceType"]).model_validate(data)
        return True
    except (ValidationError, KeyError, ValueError, TypeError):
        return False


def judge_answer(r, raw: bytes, where: str) -> bool:
    """The checks every party's answer to a published file must pass: never a 5xx, FHIR JSON, a refusal
    an OperationOutcome coded REC_ for its status, and a file that is not valid R4 refused 400 naming
    the element. True when the file is not valid R4 (the caller counts them)."""
    assert r.status_code < 500, where
    assert r.headers["content-type"].startswith("application/fhir+json"), where
    if r.status_code >= 400:
        body = r.json()
        assert body["resourceType"] == "OperationOutcome", where
        issue = body["issue"][0]
        assert issue["code"] and issue.get("diagnostics"), where
        # Each party, the broker included, refuses a message as its receiver: REC_ for the status.
        assert issue["details"]["coding"] == [{"system": HTTP_ERROR_SYSTEM,
                                               "code": bars_code_for(r.status_code)}], where
    valid = _r4b_valid(raw)
    if valid is False:
        assert r.status_code == 400, where
        assert r.json()["issue"][0].get("expression"), where
    elif valid is None:
        assert r.status_code == 400, where
    return valid is False


@pytest.mark.parametrize("target", ["broker", "spine", "gp", "pas"])
async def test_every_reference_file_gets_a_precise_answer(tmp_path, reference_dir, target):
    files = sorted(p for p in reference_dir.rglob("*.json"))
    assert len(files) >= 80
    async with inprocess_stack(tmp_path, population_size=50) as (urls, client, _apps):
        url = {"broker": f"{urls.broker}/$process-message", "spine": f"{urls.spine}/$process-message",
               "gp": f"{urls.gp}/Y90001/$process-message", "pas": f"{urls.pas}/RT1/$process-message"}[target]
        invalid_seen = 0
        for path in files:
            raw = path.read_bytes()
            r = await client.post(url, content=raw, headers=FHIR)
            where = f"{path.relative_to(reference_dir)} -> {target}"
            invalid_seen += judge_answer(r, raw, where)
        assert invalid_seen >= 18

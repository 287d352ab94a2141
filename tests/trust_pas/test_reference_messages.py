"""Every published BaRS example sent to a trust's `$process-message`: precise 4xx, never a 500."""

from __future__ import annotations

from pathlib import Path

import orjson
from fhir.resources.R4B import get_fhir_model_class

from tests.inprocess import FHIR_HEADERS


def r4b_verdict(raw: bytes) -> str:
    """'unparsable', 'invalid' or 'valid' as fhir.resources.R4B sees the file."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "unparsable"
    try:
        get_fhir_model_class(data["resourceType"]).model_validate(data)
    except Exception:
        return "invalid"
    return "valid"


def _bundle_id(raw: bytes) -> str | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data.get("id") if isinstance(data, dict) and data.get("resourceType") == "Bundle" else None


async def test_every_reference_file(pas, reference_dir: Path):
    files = sorted(p for p in reference_dir.rglob("*") if p.is_file())
    assert len(files) > 80
    verdicts = {}
    bundle_ids: set[str] = set()
    reused = 0
    for path in files:
        raw = path.read_bytes()
        verdict = r4b_verdict(raw)
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        r = await pas.post("/RT1/$process-message", content=raw, headers=FHIR_HEADERS)
        name = str(path.relative_to(reference_dir))
        assert r.status_code != 500, name
        outcome = r.json()
        assert 400 <= r.status_code < 500, (name, r.status_code)
        assert outcome["resourceType"] == "OperationOutcome", name
        issue = outcome["issue"][0]
        assert issue["diagnostics"], name
        bundle_id = _bundle_id(raw)
        if r.status_code == 409:
            # Some published examples share a Bundle.id (a request and its response): once one was
            # answered, the other is a different message under a used id.
            assert (issue["code"], issue.get("expression")) == ("duplicate", ["Bundle.id"]), name
            assert bundle_id in bundle_ids, name
            reused += 1
        elif verdict == "unparsable":
            assert r.status_code == 400, name
        elif verdict == "invalid":
            assert r.status_code == 400, name
            assert issue.get("expression"), name
        else:
            # Valid FHIR, but not a booking message this trust can act on.
            assert r.status_code in (400, 422), name
            assert issue.get("expression"), name
        if bundle_id:
            bundle_ids.add(bundle_id)
    assert reused <= 3
    assert verdicts["invalid"] >= 15 and verdicts["valid"] >= 60 and verdicts["unparsable"] >= 1

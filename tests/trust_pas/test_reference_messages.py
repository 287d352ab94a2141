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


async def test_every_reference_file(pas, reference_dir: Path):
    files = sorted(p for p in reference_dir.rglob("*") if p.is_file())
    assert len(files) > 80
    verdicts = {}
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
        if verdict == "unparsable":
            assert r.status_code == 400, name
        elif verdict == "invalid":
            assert r.status_code == 400, name
            assert issue.get("expression"), name
        else:
            # Valid FHIR, but not a booking message this trust can act on.
            assert r.status_code in (400, 422), name
            assert issue.get("expression"), name
    assert verdicts["invalid"] >= 15 and verdicts["valid"] >= 60 and verdicts["unparsable"] >= 1

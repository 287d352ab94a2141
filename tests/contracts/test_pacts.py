"""The consumers' side of the pacts: each consumer's code uses the answers it specifies (against Pact's
mock server), and the pact files in contracts/pacts/ are what the consumers' tests write."""

from __future__ import annotations

import json

import pytest

from contracts import pacts


def _interactions(path) -> list[dict]:
    doc = json.loads(path.read_text())
    return sorted(doc["interactions"], key=lambda i: i["description"])


@pytest.mark.parametrize(("consumer", "provider"), pacts.PAIRS)
def test_consumer_side_writes_the_committed_pact(consumer, provider, tmp_path):
    written = pacts.write_pact(consumer, provider, tmp_path)
    committed = pacts.pact_path(consumer, provider)
    assert committed.is_file(), f"no {committed.name}; run `testbed contract pacts --update`"
    assert _interactions(written) == _interactions(committed), (
        f"{committed.name} is not what {consumer}'s tests write; run `testbed contract pacts --update`")


def test_a_consumer_that_cannot_use_its_answer_fails(monkeypatch, tmp_path):
    """A pact whose answer the consumer's code cannot read is refused rather than written."""
    real = pacts.interactions

    def unusable(consumer, provider):
        items = real(consumer, provider)
        for i in items:
            if isinstance(i.response, dict) and i.response.get("resourceType") == "Parameters":
                i.response["parameter"][0]["valueIdentifier"]["system"] = "urn:oid:1.2.3"
        return items

    monkeypatch.setattr(pacts, "interactions", unusable)
    with pytest.raises(pacts.ConsumerExpectationFailed, match="ubrn-system"):
        pacts.write_pact(pacts.BROKER, pacts.SPINE, tmp_path)
    assert not list(tmp_path.glob("*.json"))

"""Interface snapshots: each party's live OpenAPI and CapabilityStatements match contracts/snapshots/."""

from __future__ import annotations

import pytest

from contracts import snapshots


@pytest.mark.parametrize("party", list(snapshots.PARTIES))
async def test_live_interface_matches_its_snapshot(party):
    diffs = await snapshots.compare(party)
    changed = {kind: d for kind, d in diffs.items() if d}
    assert not changed, f"{party}'s interface differs from contracts/snapshots/: {changed}; {snapshots.UPDATE_HINT}"


async def test_a_new_route_or_capability_change_is_caught(monkeypatch):
    import booking_broker.app as broker_module

    real, real_capability = broker_module.create_app, broker_module.broker_capability

    def changed_app(*args, **kwargs):
        app = real(*args, **kwargs)

        @app.get("/Appointment/{ubrn}/history")
        async def history(ubrn: str):
            return {}

        return app

    monkeypatch.setattr(broker_module, "create_app", changed_app)
    monkeypatch.setattr(broker_module, "broker_capability", lambda base: {**real_capability(base), "kind": "capability"})
    diffs = await snapshots.compare("broker")
    assert any("/Appointment/{ubrn}/history" in d and "added" in d for d in diffs["openapi"]), diffs
    assert diffs["capability"] == ["$./metadata.kind changed"]


def test_volatile_fields_do_not_count():
    statement = {"/metadata": {"resourceType": "CapabilityStatement", "date": "2026-11-27",
                               "software": {"name": "x", "version": "9.9"}}}
    later = {"/metadata": {**statement["/metadata"], "date": "2027-01-01", "software": {"name": "x", "version": "1"}}}
    assert snapshots.differences(snapshots.normalise("capability", statement),
                                 snapshots.normalise("capability", later)) == []

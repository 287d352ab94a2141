"""A trust kept by the legacy PAS has the slot and service ids the FHIR trust PAS gives the same
trust, so the middleware can stand for it on the broker's side without translating ids."""

from __future__ import annotations

import pytest

from tests.inprocess import client_for
from trust_pas.app import create_app as create_trust_pas
from trust_pas.settings import Settings as TrustPasSettings

from .helpers import ODS, SERVICE, TRUST, exchange, free_slot_ids, legacy_pas, s25

pytestmark = [pytest.mark.sockets, pytest.mark.timeout(60)]


async def test_free_slots_have_the_trust_pas_ids(tmp_path):
    fhir = create_trust_pas(TrustPasSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/pas.db", trusts=[TRUST]))
    async with client_for(fhir) as pas, legacy_pas(f"sqlite+aiosqlite:///{tmp_path}/legacy.db") as (_a, _c, port):
        r = await pas.get(f"/{ODS}/Slot", params={"service": SERVICE, "status": "free", "_count": 5})
        assert r.status_code == 200, r.text
        fhir_ids = [e["resource"]["id"] for e in r.json()["entry"]]
        assert len(fhir_ids) == 5
        assert free_slot_ids(await exchange(port, s25("Q1", count=5))) == fhir_ids

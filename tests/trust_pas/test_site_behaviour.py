"""Per-site behaviour (`PAS_SITES`): one site of a merged trust answers differently from its sister."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from party_common.outcome import FhirError
from tests.inprocess import client_for
from trust_pas.site_behaviour import SiteBehaviour, SiteDesk
from trust_pas.settings import Settings

from .helpers import booking, free_slots, make_app, post_message, ubrn

OLD_SITE = "rt1-rt102-cardiology"     # RT102: the site still on the system of the trust RT1 merged with
MAIN_SITE = "rt1-rt101-cardiology"


async def test_only_the_named_site_is_unavailable_and_a_repeat_is_a_fresh_attempt(sqlite_url):
    async with client_for(make_app(sqlite_url, sites={"RT102": {"unavailable": 1.0}})) as pas:
        old = (await free_slots(pas, service=OLD_SITE, count=1))[0]
        main = (await free_slots(pas, service=MAIN_SITE, count=1))[0]
        refused = await post_message(pas, booking(old, ubrn_value=ubrn(1), service=OLD_SITE, bundle_id="b-old"))
        assert refused.status_code == 503
        issue = refused.json()["issue"][0]
        assert issue["code"] == "transient" and "RT102" in issue["diagnostics"]
        # Nothing was taken or remembered: the slot is still free at the old site.
        assert (await pas.get(f"/RT1/Slot/{old['id']}")).json()["status"] == "free"
        ok = await post_message(pas, booking(main, ubrn_value=ubrn(2), service=MAIN_SITE))
        assert ok.status_code == 200, ok.text


async def test_a_fraction_of_the_sites_messages_fail_by_a_seeded_draw(sqlite_url):
    async with client_for(make_app(sqlite_url, sites={"RT102": {"unavailable": 0.5}})) as pas:
        slots = await free_slots(pas, service=OLD_SITE, count=40)
        codes = [(await post_message(pas, booking(s, ubrn_value=ubrn(i + 1), service=OLD_SITE,
                                                  bundle_id=f"b{i}"))).status_code
                 for i, s in enumerate(slots)]
    assert set(codes) == {200, 503}
    assert 8 <= codes.count(503) <= 32


async def _turned_away(desk: SiteDesk, bundle_ids: list[str]) -> set[str]:
    refused = set()
    for bundle_id in bundle_ids:
        try:
            await desk.answer(SimpleNamespace(ods="RT1"), {"id": bundle_id})
        except FhirError:
            refused.add(bundle_id)
    return refused


async def test_the_same_messages_find_the_site_unavailable_whatever_order_they_arrive_in():
    def desk(seed: int = 1) -> SiteDesk:
        d = SiteDesk({"RT102": SiteBehaviour(unavailable=0.5)}, seed=seed)
        d.site_of = lambda trust, bundle: "RT102"
        return d

    ids = [f"b{i}" for i in range(200)]
    refused = await _turned_away(desk(), ids)
    assert await _turned_away(desk(), random.Random(2).sample(ids, len(ids))) == refused
    assert 60 < len(refused) < 140
    assert await _turned_away(desk(seed=2), ids) != refused
    # A message sent again is a fresh attempt: turned away once, it gets through on a later try.
    again = desk()
    tries = [bool(await _turned_away(again, ["b-again"])) for _ in range(20)]
    assert True in tries and False in tries


def test_settings_read_sites_from_the_environment(monkeypatch):
    monkeypatch.setenv("PAS_SITES", '{"RT102": {"unavailable": 0.25, "delay_ms": 5}}')
    assert Settings().sites == {"RT102": SiteBehaviour(unavailable=0.25, delay_ms=5)}
    monkeypatch.setenv("PAS_SITES", '{"RT102": {"unavailable": 2}}')
    with pytest.raises(ValueError):
        Settings()

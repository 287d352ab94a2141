"""The middleware in front of the real legacy PAS (legacy_pas/), in-process over HTTP and over real
MLLP sockets between the two, each on its own settings (a virtual clock, an ACK delay), with a spine
that can vanish; and what the tests read of them: the PAS's extract, the queue settled, slot pages."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from legacy_pas.app import create_app as create_legacy_pas
from legacy_pas.settings import Settings as LegacySettings
from party_common.fhir_json import FHIR_JSON
from party_common.http_client import RoutingTransport
from tests.inprocess import running
from tests.middleware.helpers import ODS, SERVICE, SPINE, START, TRUSTS, FakeSpine, settings_env

from middleware.app import create_app
from middleware.settings import Settings

# The four weeks of the test calendar: 120 free slots, a dozen pages at `_count=10`.
JANUARY = [("service", SERVICE), ("status", "free"), ("start", "ge2027-01-04T00:00:00Z"),
           ("start", "lt2027-02-01T00:00:00Z")]


@dataclass
class LegacyPair:
    mw: FastAPI
    pas: FastAPI
    spine: FakeSpine
    client: httpx.AsyncClient     # the middleware's HTTP face
    extract: httpx.AsyncClient    # the legacy PAS's HTTP face (its extract)

    async def appointments(self) -> list[dict]:
        r = await self.extract.get("/extract/appointments", params={"format": "json"})
        assert r.status_code == 200, r.text
        return r.json()

    async def settled(self, n: int) -> dict:
        """The queue's settled counts once `n` messages are settled. Polled, never timed: the test's
        timeout bounds it. (Not for a middleware on a virtual clock: its time moves only when told.)"""
        while True:
            counts = (await self.client.get("/queue")).json()["settled"]
            if sum(counts.values()) >= n:
                return counts
            await asyncio.sleep(0.01)

    async def walk(self, params: list[tuple[str, str]], count: int) -> tuple[int | None, list[str], int]:
        """A search's first page's `total`, every slot id its `next` links lead to, and how many pages."""
        r = await self.client.get(f"/{ODS}/Slot", params=[*params, ("_count", str(count))])
        assert r.status_code == 200, r.text
        page = r.json()
        total, ids, pages = page.get("total"), [], 0
        while True:
            pages += 1
            ids += [e["resource"]["id"] for e in page.get("entry", []) if e["resource"]["resourceType"] == "Slot"]
            url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
            if url is None:
                return total, ids, pages
            r = await self.client.get(url.replace("http://mw.test", ""))
            assert r.status_code == 200, r.text
            page = r.json()
            assert "total" not in page   # counted from its cursor by the PAS: not the search's


@asynccontextmanager
async def legacy_pair(tmp_path, *, pas: dict | None = None, **overrides):
    """`async with legacy_pair(tmp_path, pas={...}, **middleware settings) as pair`."""
    legacy = create_legacy_pas(LegacySettings(**{
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'legacy.db'}", "trusts": TRUSTS, "calendar_start": START,
        "horizon_days": 28, "mllp_ports": {ODS: 0}, "log_level": "WARNING", **(pas or {})}))
    spine = FakeSpine()
    async with running(legacy):
        port = legacy.state.mllp.ports[ODS]
        mw = create_app(Settings(**settings_env(f"sqlite+aiosqlite:///{tmp_path / 'mw.db'}", f"127.0.0.1:{port}",
                                                **overrides)),
                        transport=RoutingTransport({SPINE: httpx.ASGITransport(app=spine.app)}))
        spine.clock = mw.state.clock
        async with running(mw):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url="http://mw.test",
                                         headers={"Accept": FHIR_JSON}) as client, \
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=legacy), base_url="http://legacy.test") \
                    as extract:
                yield LegacyPair(mw, legacy, spine, client, extract)

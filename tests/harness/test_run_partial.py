"""A run that stops part-way still leaves what it had, and says which fault rules shaped it."""

from __future__ import annotations

import httpx
import orjson
import pytest

from harness.run.runner import RunIncomplete, RunOptions, drive
from harness.scenario.model import parse_scenario
from party_common.http_client import RoutingTransport
from tests.stack_inprocess import inprocess_stack, mount


class BrokerGoneWhileDraining(httpx.AsyncBaseTransport):
    """The broker stops answering once the run starts waiting for its outbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.gone = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/outbox":
            self.gone = True
        if self.gone and request.url.host == "broker.test":
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_a_broker_gone_while_draining_leaves_bookings_and_an_incomplete_summary(tmp_path):
    scenario = parse_scenario({"seed": 2, "workload": {"bookings": 12, "concurrency": 3}})
    folder = tmp_path / "run"
    folder.mkdir()
    async with inprocess_stack(tmp_path / "stack", population_size=200) as (urls, _client, apps):
        assert urls.broker.startswith("http://broker.test"), urls.broker
        with pytest.raises(RunIncomplete, match="waiting for the broker's outbox to drain"):
            await drive(RunOptions(scenario=scenario, urls=urls, runs_dir=tmp_path),
                        folder, transport=BrokerGoneWhileDraining(mount(RoutingTransport(), apps)))
    bookings = [orjson.loads(line) for line in (folder / "bookings.jsonl").read_bytes().splitlines()]
    assert len(bookings) == 12 and all(b["outcome"] == "accepted" for b in bookings)
    summary = orjson.loads((folder / "summary.json").read_bytes())
    assert summary["incomplete"]["stage"] == "drain"
    assert "ConnectError" in summary["incomplete"]["error"]
    assert summary["incomplete"]["journal"].startswith("could not be read")
    assert summary["bookings"]["accepted"] == 12 and summary["run"]["seed"] == 2
    assert (folder / "journal.jsonl").exists()


async def test_rules_already_on_the_broker_are_replaced_or_kept_and_the_summary_says_which(tmp_path):
    rule = {"link": "broker->gp", "action": "delay", "params": {"ms": 1}}
    scenario = parse_scenario({"seed": 3, "workload": {"bookings": 3, "concurrency": 1},
                               "faults": [{"link": "broker->pas:*", "action": "delay", "params": {"ms": 1}}]})
    for keep, expected in ((False, {"scenario": 1, "kept_from_broker": 0, "replaced_on_broker": 1}),
                           (True, {"scenario": 1, "kept_from_broker": 1, "replaced_on_broker": 0})):
        folder = tmp_path / f"run-{keep}"
        folder.mkdir()
        async with inprocess_stack(tmp_path / f"stack-{keep}", population_size=200) as (urls, client, apps):
            assert (await client.post(f"{urls.broker}/faults", json=rule)).status_code == 201
            summary = await drive(RunOptions(scenario=scenario, urls=urls, runs_dir=tmp_path, keep_rules=keep),
                                  folder, transport=mount(RoutingTransport(), apps))
            links = [r["link"] for r in (await client.get(f"{urls.broker}/faults")).json()["rules"]]
        assert summary["fault_rules"] == expected
        assert links == (["broker->gp", "broker->pas:*"] if keep else ["broker->pas:*"])

"""`testbed faults` sends its control requests as JSON, the only content type the broker takes for them."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from harness.cli.main import app


@pytest.fixture
def sent(monkeypatch) -> list[httpx.Request]:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"seed": 0, "rules": []})

    def request(method, url, **kwargs):
        with httpx.Client(transport=httpx.MockTransport(answer)) as client:
            return client.request(method, url, **kwargs)

    monkeypatch.setattr(httpx, "request", request)
    return requests


@pytest.mark.parametrize("args", [
    ["add", "--link", "broker->pas:*", "--action", "drop", "--probability", "0.5"],
    ["add", "--json", '{"link": "x", "action": "drop"}'],
    ["reset"],
    ["reset", "--seed", "4"],
])
def test_every_faults_command_that_changes_the_plan_sends_json(sent, args):
    result = CliRunner().invoke(app, ["faults", *args, "--broker-url", "http://broker.test"])
    assert result.exit_code == 0, result.output
    assert [r.method for r in sent] == ["POST"]
    assert sent[0].headers["content-type"] == "application/json"


def test_the_control_token_goes_with_every_faults_command(sent, monkeypatch):
    monkeypatch.setenv("TESTBED_CONTROL_TOKEN", "t0ken")
    for args in (["list"], ["reset"], ["remove", "r1"]):
        assert CliRunner().invoke(app, ["faults", *args, "--broker-url", "http://broker.test"]).exit_code == 0
    assert [r.headers.get("authorization") for r in sent] == ["Bearer t0ken"] * 3

"""`testbed faults list|add|remove|reset`: the broker's fault rules on a running stack."""

from __future__ import annotations

import sys
from typing import Annotated

import httpx
import orjson
import typer

from party_common.control_auth import control_headers

faults_app = typer.Typer(help="Fault rules of a running broker (list, add, remove, reset).", no_args_is_help=True)

BrokerUrl = Annotated[str, typer.Option(help="Base URL of the booking broker.")]


def _fail(message: str, code: int = 1) -> None:
    print(f"testbed: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _call(method: str, url: str, body=None):
    try:
        r = httpx.request(method, url, json=body, timeout=10, headers=control_headers())
    except httpx.HTTPError as exc:
        _fail(f"the broker at {url.rsplit('/faults', 1)[0]} cannot be reached ({type(exc).__name__})", 3)
    try:
        data = r.json()
    except ValueError:
        _fail(f"the broker answered {r.status_code} with no JSON")
    if r.status_code >= 400:
        issue = (data.get("issue") or [{}])[0] if isinstance(data, dict) else {}
        _fail(issue.get("diagnostics") or f"the broker answered {r.status_code}", 2 if r.status_code < 500 else 1)
    return data


def _print(data) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@faults_app.command("list")
def list_rules(broker_url: BrokerUrl = "http://127.0.0.1:8000"):
    """Print the seed and the rules in force."""
    _print(_call("GET", f"{broker_url}/faults"))


@faults_app.command("add")
def add_rule(
    link: Annotated[str | None, typer.Option(help="Link or glob, e.g. 'broker->pas:*'.")] = None,
    action: Annotated[str | None, typer.Option(help="drop, lose-ack, delay, duplicate, reorder, corrupt, error, timeout, outage.")] = None,
    event: Annotated[str | None, typer.Option(help="Message event (booking-request...) or glob.")] = None,
    probability: Annotated[float | None, typer.Option(min=0, max=1)] = None,
    nth: Annotated[list[int] | None, typer.Option(help="Exact plan: the nth matching messages (repeatable).")] = None,
    every: Annotated[str | None, typer.Option(help="Exact plan K/N: k of every n messages, e.g. 57/100.")] = None,
    window: Annotated[str | None, typer.Option(help="FROM:TO seconds since the plan started, e.g. 10:40.")] = None,
    param: Annotated[list[str] | None, typer.Option(help="Action parameter NAME=VALUE (repeatable), e.g. ms=200.")] = None,
    rule_json: Annotated[str | None, typer.Option("--json", help="The whole rule as JSON instead of options.")] = None,
    broker_url: BrokerUrl = "http://127.0.0.1:8000",
):
    """Add one rule; prints it with the id the broker gave it."""
    if rule_json:
        try:
            rule = orjson.loads(rule_json)
        except orjson.JSONDecodeError:
            _fail("--json is not valid JSON", 2)
    else:
        if not link or not action:
            _fail("give --link and --action (or --json)", 2)
        rule = {"link": link, "action": action}
        if event:
            rule["event"] = event
        if probability is not None:
            rule["probability"] = probability
        if nth:
            rule["nth"] = nth
        if every:
            try:
                k, n = (int(x) for x in every.split("/"))
            except ValueError:
                _fail("--every takes K/N, e.g. 57/100", 2)
            rule["every"] = {"k": k, "n": n}
        if window:
            try:
                start, _, end = window.partition(":")
                rule["window"] = {"from": float(start or 0), **({"to": float(end)} if end else {})}
            except ValueError:
                _fail("--window takes FROM:TO in seconds, e.g. 10:40", 2)
        for item in param or []:
            name, sep, value = item.partition("=")
            if not sep:
                _fail(f"--param takes NAME=VALUE, got {item!r}", 2)
            try:
                rule[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                rule[name] = value
    _print(_call("POST", f"{broker_url}/faults", rule))


@faults_app.command("remove")
def remove_rule(rule_id: str, broker_url: BrokerUrl = "http://127.0.0.1:8000"):
    """Remove one rule by id."""
    _print(_call("DELETE", f"{broker_url}/faults/{rule_id}"))


@faults_app.command("reset")
def reset(seed: Annotated[int | None, typer.Option()] = None, broker_url: BrokerUrl = "http://127.0.0.1:8000"):
    """Remove every rule, release held messages, restart counters and the link counts."""
    _print(_call("POST", f"{broker_url}/faults/reset", {"seed": seed} if seed is not None else {}))


def register(app: typer.Typer) -> None:
    app.add_typer(faults_app, name="faults")

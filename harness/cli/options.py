"""The options several `testbed` commands share, declared once: where the stack's parties are."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from harness.cli.errors import USAGE, fail
from harness.stack.endpoints import DEFAULT_PORTS, StackUrls

HostOpt = Annotated[str, typer.Option(help="Address the parties listen on.")]
# The ports default from the variables docker-compose.yml publishes the parties on, so a stack on other
# ports is found by every command (and from the harness container) without repeating them.
BrokerPort = Annotated[int, typer.Option(help="Port of the booking broker.", envvar="TESTBED_BROKER_PORT")]
SpinePort = Annotated[int, typer.Option(help="Port of the spine.", envvar="TESTBED_SPINE_PORT")]
PasPort = Annotated[int, typer.Option(help="Port of the trust PAS.", envvar="TESTBED_PAS_PORT")]
GpPort = Annotated[int, typer.Option(help="Port of the GP system.", envvar="TESTBED_GP_PORT")]
# The trust's middleware and legacy PAS (docs/legacy-pas.md): used by a stack with legacy trusts only.
MiddlewarePort = Annotated[int, typer.Option(help="Port of the trust's middleware (a stack with legacy trusts).",
                                             envvar="TESTBED_MIDDLEWARE_PORT")]
LegacyPasPort = Annotated[int, typer.Option(help="HTTP port of the legacy PAS (health, extract).",
                                            envvar="TESTBED_LEGACY_PAS_PORT")]
# For reconcile/check: unset, a stack on the default ports has them at theirs (read when one answers),
# a stack moved elsewhere names them (so another stack's legacy PAS on 8005 is never read for it).
OptMiddlewarePort = Annotated[int | None, typer.Option(
    "--middleware-port", help="Port of the trust's middleware (default 8004 when the broker is on 8000).",
    envvar="TESTBED_MIDDLEWARE_PORT")]
OptLegacyPasPort = Annotated[int | None, typer.Option(
    "--legacy-pas-port", help="HTTP port of the legacy PAS, whose extract is a legacy trust's record (default "
                              "8005 when the broker is on 8000).", envvar="TESTBED_LEGACY_PAS_PORT")]
MllpPort = Annotated[int, typer.Option(help="The legacy PAS's MLLP port for the first legacy trust (the next "
                                            "trust takes the next port).", envvar="TESTBED_MLLP_PORT")]
BrokerUrl = Annotated[str | None, typer.Option(help="The broker's base URL (wins over --host/--broker-port).")]
SpineUrl = Annotated[str | None, typer.Option(help="The spine's base URL.")]
PasUrl = Annotated[str | None, typer.Option(help="Base URL of the PAS service hosting the trusts (/{ODS}).")]
GpUrl = Annotated[str | None, typer.Option(help="Base URL of the GP system hosting the practices (/{ODS}).")]
MiddlewareUrl = Annotated[str | None, typer.Option(help="The trust middleware's base URL (its journal).")]
LegacyPasUrl = Annotated[str | None, typer.Option(help="The legacy PAS's HTTP base URL (its extract).")]


def local_urls(host: str, broker: int, spine: int, pas: int, gp: int, middleware: int = DEFAULT_PORTS["middleware"],
               legacy_pas: int = DEFAULT_PORTS["legacy_pas"]) -> StackUrls:
    """Every party on `host`, the middleware and legacy PAS included: a run or reconciliation
    without legacy trusts leaves those two out (harness/run/runner.py urls_for)."""
    return StackUrls.local(host, {"broker": broker, "spine": spine, "pas": pas, "gp": gp,
                                  "middleware": middleware, "legacy_pas": legacy_pas})


def stack_urls(host: str, ports: dict[str, int | None], explicit: dict[str, str | None]) -> StackUrls:
    """The parties on `host` at `ports`, but for those given by URL (a real system in place of ours).
    The middleware and legacy PAS are included when their port or URL is given, or the broker is on
    its default port (they at theirs)."""
    chosen = {name: port for name, port in ports.items() if port is not None}
    if chosen.get("broker", DEFAULT_PORTS["broker"]) == DEFAULT_PORTS["broker"]:
        chosen.setdefault("middleware", DEFAULT_PORTS["middleware"])
        chosen.setdefault("legacy_pas", DEFAULT_PORTS["legacy_pas"])
    urls = StackUrls.local(host, chosen)
    given = {k: v.rstrip("/") for k, v in explicit.items() if v}
    for name, url in given.items():
        if not url.startswith(("http://", "https://")):
            fail(f"--{name.replace('_', '-')}-url must be an http(s) URL, got {url!r}", USAGE)
    return replace(urls, **given)

"""Reading every party's bookings over its own HTTP API: a bulk NDJSON export where the party has
one, the pages of its Appointment search otherwise. Works the same against the embedded stack, a
compose stack or a real system at a URL.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from harness.stack.endpoints import StackUrls
from party_common.identifiers import ODS_SYSTEM

from harness.cli.errors import UnreachableError
from harness.reconcile.legacy import ingest_extract, read_extract
from harness.reconcile.records import LineSplitter, PartyRecords, Strings, gc_paused

NDJSON = "application/fhir+ndjson"
PAGE = 1000
NO_EXPORT = (404, 405, 501)


class PartyUnreachable(UnreachableError, RuntimeError):
    """A party could not be reached or read; the message is one line for the user."""

    def __init__(self, party: str, url: str, reason: str):
        super().__init__(f"the {party} at {url} cannot be reached ({reason})")
        self.party = party
        self.url = url


async def _get_json(client: httpx.AsyncClient, party: str, url: str, params: dict | None = None) -> dict:
    try:
        r = await client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise PartyUnreachable(party, url, type(exc).__name__) from exc
    if r.status_code != 200:
        raise PartyUnreachable(party, url, f"GET answered {r.status_code}")
    try:
        body = r.json()
    except ValueError:
        raise PartyUnreachable(party, url, "the answer is not JSON") from None
    if not isinstance(body, dict):
        raise PartyUnreachable(party, url, "the answer is not a FHIR resource")
    return body


def _next(bundle: dict) -> str | None:
    return next((link.get("url") for link in bundle.get("link") or [] if link.get("relation") == "next"), None)


async def read_appointments(client: httpx.AsyncClient, party: str, base: str, into: PartyRecords,
                            trust: str | None = None, practice: str | None = None) -> str:
    """Reads `{base}/Appointment/$export` (NDJSON) or, without one, pages `{base}/Appointment`."""
    base = base.rstrip("/")
    url = f"{base}/Appointment/$export"
    try:
        async with client.stream("GET", url, headers={"Accept": NDJSON}) as r:
            kind = r.headers.get("content-type", "")
            if r.status_code == 200 and "ndjson" in kind:
                splitter = LineSplitter()
                with gc_paused():
                    async for chunk in r.aiter_bytes():
                        into.ingest_lines(splitter.feed(chunk), trust, practice)
                    into.ingest_lines(splitter.end(), trust, practice)
                into.read.append(f"{url} (export)")
                return "export"
            if r.status_code not in NO_EXPORT and r.status_code != 200:
                raise PartyUnreachable(party, url, f"GET answered {r.status_code}")
    except httpx.HTTPError as exc:
        raise PartyUnreachable(party, url, type(exc).__name__) from exc
    page_url: str | None = f"{base}/Appointment"
    params: dict | None = {"_count": PAGE}
    pages = 0
    while page_url:
        bundle = await _get_json(client, party, page_url, params)
        into.ingest([e.get("resource") or {} for e in bundle.get("entry") or []], trust, practice)
        page_url, params = _next(bundle), None
        pages += 1
    into.read.append(f"{base}/Appointment ({pages} pages)")
    return "pages"


async def organizations(client: httpx.AsyncClient, party: str, base: str) -> list[str]:
    """ODS codes of the Organizations a multi-tenant service hosts (Locations are sites: skipped)."""
    codes: list[str] = []
    url: str | None = f"{base.rstrip('/')}/Organization"
    while url:
        bundle = await _get_json(client, party, url)
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") or {}
            if res.get("resourceType") != "Organization":
                continue
            ods = next((i.get("value") for i in res.get("identifier") or [] if i.get("system") == ODS_SYSTEM),
                       res.get("id"))
            if ods:
                codes.append(ods)
        url = _next(bundle)
    return codes


async def read_tenants(client: httpx.AsyncClient, party: str, base: str, into: PartyRecords) -> None:
    for ods in await organizations(client, party, base):
        defaults = {"trust": ods} if party == "pas" else {"practice": ods}
        await read_appointments(client, party, f"{base.rstrip('/')}/{ods}", into, **defaults)


async def wait_settled(client: httpx.AsyncClient, broker: str, timeout: float) -> str | None:
    """Waits until the broker owes nothing (outbox empty, nothing held back).

    Returns a note when it did not settle in time; a broker without `/outbox` (a real one) is
    taken as settled.
    """
    if timeout <= 0:
        return None
    deadline = time.monotonic() + timeout
    url = f"{broker.rstrip('/')}/outbox"
    quiet = 0
    while True:
        try:
            r = await client.get(url)
        except httpx.HTTPError as exc:
            raise PartyUnreachable("broker", broker, type(exc).__name__) from exc
        if r.status_code != 200:
            return None
        state = r.json()
        # Twice quiet in a row: a held message leaves the hold a moment before its delivery ends.
        quiet = quiet + 1 if not state.get("depth") and not state.get("held") else 0
        if quiet >= 2:
            return None
        if time.monotonic() > deadline:
            return (f"the broker still owed messages after {timeout:.0f}s (outbox depth {state.get('depth')},"
                    f" held {state.get('held')}): some discrepancies may be deliveries still under way")
        await asyncio.sleep(0.05 if quiet else 0.1)


async def read_legacy(client: httpx.AsyncClient, base: str, into: PartyRecords, required: bool | None) -> None:
    """Adds a legacy PAS's extract to the trusts' records. `required` None: only when one answers at
    `base` (a stack without legacy trusts has nothing there); True: it must answer."""
    url = f"{base.rstrip('/')}/extract/appointments"
    try:
        rows = await read_extract(client, base)
    except httpx.ConnectError as exc:
        if required is None:
            return
        raise PartyUnreachable("legacy PAS", url, type(exc).__name__) from exc
    except httpx.HTTPStatusError as exc:
        raise PartyUnreachable("legacy PAS", url, f"GET answered {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise PartyUnreachable("legacy PAS", url, type(exc).__name__) from exc
    except ValueError as exc:
        raise PartyUnreachable("legacy PAS", url, f"the extract cannot be read: {exc}") from exc
    ingest_extract(rows, into)
    into.read.append(f"{url} (legacy extract, {len(rows)} rows)")


async def read_stack(client: httpx.AsyncClient, urls: StackUrls, legacy: bool | None = None) -> dict[str, PartyRecords]:
    """The parties' bookings, read concurrently, sharing one string table; a legacy trust's from its
    legacy PAS's extract (`legacy`: see read_legacy; False: not read)."""
    strings = Strings()
    out = {name: PartyRecords(name, strings) for name in ("broker", "pas", "spine", "gp")}
    legacy_pas = PartyRecords("pas", strings)
    reads = [
        read_appointments(client, "broker", urls.broker, out["broker"]),
        read_tenants(client, "pas", urls.pas, out["pas"]),
        read_appointments(client, "spine", urls.spine, out["spine"]),
        read_tenants(client, "gp", urls.gp, out["gp"]),
    ]
    if urls.legacy_pas and legacy is not False:
        reads.append(read_legacy(client, urls.legacy_pas, legacy_pas, legacy))
    results = await asyncio.gather(*reads, return_exceptions=True)
    merge_into(out["pas"], legacy_pas)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return out


def merge_into(into: PartyRecords, more: PartyRecords) -> None:
    """`more`'s records added to `into`'s (the same string table): the legacy trusts beside the others."""
    for ubrn, first in more.first.items():
        for rec in (first, *more.extra.get(ubrn, ())):
            into.add(ubrn, rec)
    into.unjoined += more.unjoined
    into.malformed += more.malformed
    into.read += more.read

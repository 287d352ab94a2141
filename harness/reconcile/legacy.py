"""The trust's record for a legacy trust, and the middleware's journal (docs/legacy-pas.md).

A legacy trust's PAS speaks HL7 v2, not FHIR: its record is the flat extract it gives
(`GET /extract/appointments?format=json`), one row per appointment. Each row becomes the record the
FHIR PAS's Appointment would have been, keyed by its UBRN (the v2 placer id), so the same rules judge
it: a booking in the broker's ledger missing from the extract is lost at that trust.

The middleware carries the broker's messages on to the legacy PAS and journals each hop as the
broker does; its journal is read beside the broker's and the two are scored together (score.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import httpx

from harness.reconcile.records import PartyRecords

EXTRACT_PATH = "/extract/appointments"
MIDDLEWARE = "middleware"


def _time(value) -> str | None:
    """An extract's time: ISO 8601, or an HL7 v2 TS (`YYYYMMDDHHMM[SS][+ZZZZ]`), as ISO 8601."""
    if not value or not isinstance(value, str):
        return None
    if value[:8].isdigit() and "-" not in value[:8]:
        for fmt in ("%Y%m%d%H%M%S%z", "%Y%m%d%H%M%z", "%Y%m%d%H%M%S", "%Y%m%d%H%M"):
            try:
                return datetime.strptime(value, fmt).isoformat()
            except ValueError:
                continue
    return value


def ingest_extract(rows: Iterable[dict], into: PartyRecords) -> None:
    """Adds the legacy PAS's extract rows to a trust's records (the `pas` party's)."""
    strings = into.strings
    intern = strings.table.setdefault
    for row in rows:
        if not isinstance(row, dict):
            into.malformed += 1
            continue
        trust, status, slot = row.get("trust_ods"), row.get("status"), row.get("slot_id")
        ubrn = row.get("ubrn")
        if not ubrn:
            # Booked straight at the legacy PAS, no UBRN: joined on the PAS's own identity, as a
            # FHIR PAS's booking without one is.
            if not row.get("filler_id"):
                into.unjoined += 1
                continue
            ubrn = f"pas:{trust or ''}/Appointment/{row['filler_id']}"
        rec = (intern(status, status) if status else None, intern(slot, slot) if slot else None,
               strings.time(_time(row.get("start"))), strings.time(_time(row.get("end"))),
               intern(trust, trust) if trust else None, None)
        into.add(intern(ubrn, ubrn), rec)


async def read_extract(client: httpx.AsyncClient, base: str) -> list[dict]:
    """The legacy PAS's appointments extract as JSON rows; raises httpx errors or ValueError."""
    r = await client.get(f"{base.rstrip('/')}{EXTRACT_PATH}", params={"format": "json"})
    r.raise_for_status()
    rows = r.json()
    if isinstance(rows, dict):  # a wrapper object: its list of rows
        rows = rows.get("rows") or rows.get("appointments") or rows.get("entries") or []
    if not isinstance(rows, list):
        raise ValueError("the extract is not a JSON list of rows")
    return rows


async def read_middleware_journal(client: httpx.AsyncClient, base: str, since: int = 0) -> list[dict]:
    """The middleware's journal from `since`, paged as the broker's is."""
    entries: list[dict] = []
    while True:
        r = await client.get(f"{base.rstrip('/')}/journal", params={"since": since, "_count": 5000})
        r.raise_for_status()
        page = r.json()
        entries += page["entries"]
        if "next" not in page:
            return entries
        since = page["last"]


async def middleware_journal_if_up(client: httpx.AsyncClient, base: str | None) -> list[dict]:
    """The middleware's journal, tagged, when one answers at `base`; none when nothing listens there
    (a stack without legacy trusts)."""
    if not base:
        return []
    try:
        return tag_middleware(await read_middleware_journal(client, base))
    except httpx.ConnectError:
        return []


def tag_middleware(entries: Iterable[dict]) -> list[dict]:
    """The middleware's entries marked as its own: their `seq` counts in its journal, not the broker's."""
    return [{**e, "journal": MIDDLEWARE} for e in entries]


def joined(broker: list[dict], middleware: Iterable[dict]) -> list[dict]:
    """One list of both journals' entries (the middleware's tagged) for scoring and link rates."""
    return [*broker, *tag_middleware(middleware)]

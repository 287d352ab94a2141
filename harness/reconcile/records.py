"""Each party's bookings, cut down to what reconciliation compares, and the readers that fill them.

A million bookings at four parties is four million Appointments: kept as parsed JSON they would not
fit in memory, so each is reduced on arrival to one tuple of interned strings,

    (status, slot id, start, end, trust ODS, practice ODS)

keyed by UBRN (or, for a booking made straight at a trust's PAS without one, by the PAS's own
Appointment id: `pas:RT1/Appointment/<id>`). Times are normalised to UTC (`2027-01-04T09:30:00Z`) so that two parties writing the
same instant differently still agree. Records of one party that share a UBRN (a trust that booked the
same message twice) are kept too, beside the first. The same code reads an NDJSON export, a file, or
the pages of a searchset, so the benchmark measures exactly what the reconciler runs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import orjson

from party_common.booking import PERFORMER_EXT, REFERRER_EXT
from party_common.identifiers import UBRN_SYSTEM

STATUS, SLOT, START, END, TRUST, PRACTICE = range(6)
FIELDS = ("status", "slot", "start", "end", "trust", "practice")

Record = tuple  # (status, slot, start, end, trust, practice)


def normalise_time(value: str) -> str:
    """An ISO 8601 instant as UTC with a `Z`; a string that is not one comes back unchanged."""
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return dt.strftime(fmt)


class Strings:
    """One string object per distinct value, shared by every party; times normalised once each."""

    def __init__(self):
        self.table: dict[str, str] = {}
        self.times: dict[str, str] = {}

    def time(self, value):
        if value is None:
            return None
        t = self.times.get(value)
        if t is None:
            t = normalise_time(value) if isinstance(value, str) else str(value)
            t = self.table.setdefault(t, t)
            self.times[value] = t
        return t


class PartyRecords:
    """One party's bookings by UBRN: `first` holds one record each, `extra` any further ones."""

    def __init__(self, party: str, strings: Strings | None = None):
        self.party = party
        self.strings = strings or Strings()
        self.first: dict[str, Record] = {}
        self.extra: dict[str, list[Record]] = {}
        self.records = 0        # Appointments read
        self.unjoined = 0       # Appointments with neither a UBRN nor an id: nothing to join them on
        self.malformed = 0      # lines or entries that were not a readable Appointment
        self.read: list[str] = []   # how each source was read: "<url> (export|pages)"

    def __len__(self) -> int:
        return len(self.first)

    def get(self, ubrn: str) -> list[Record]:
        rec = self.first.get(ubrn)
        if rec is None:
            return []
        more = self.extra.get(ubrn)
        return [rec, *more] if more else [rec]

    def add(self, ubrn: str, rec: Record) -> None:
        if ubrn in self.first:
            self.extra.setdefault(ubrn, []).append(rec)
        else:
            self.first[ubrn] = rec
        self.records += 1

    def ingest(self, resources: Iterable, trust: str | None = None, practice: str | None = None) -> None:
        """Adds Appointments (parsed dicts); `trust`/`practice` fill an ODS the record leaves out.

        The hot loop of reading: locals only, no per-record objects besides the tuple kept.
        """
        table = self.strings.table
        intern = table.setdefault
        time = self.strings.time
        first, extra = self.first, self.extra
        ubrn_system, performer, referrer = UBRN_SYSTEM, PERFORMER_EXT, REFERRER_EXT
        read = unjoined = malformed = 0
        trust = intern(trust, trust) if trust else None
        practice = intern(practice, practice) if practice else None
        for appt in resources:
            try:
                if appt.get("resourceType") != "Appointment":
                    malformed += 1
                    continue
                ubrn = None
                for ident in appt.get("identifier") or ():
                    if ident.get("system") == ubrn_system:
                        ubrn = ident.get("value")
                        break
                t_ods, p_ods = trust, practice
                for ext in appt.get("extension") or ():
                    url = ext.get("url")
                    if url == performer:
                        t_ods = (ext.get("valueIdentifier") or {}).get("value") or t_ods
                    elif url == referrer:
                        p_ods = (ext.get("valueIdentifier") or {}).get("value") or p_ods
                slots = appt.get("slot")
                slot = slots[0].get("reference") if slots else None
                if slot and slot.startswith("Slot/"):
                    slot = slot[5:]
                status = appt.get("status")
                rec = (intern(status, status) if status else None, intern(slot, slot) if slot else None,
                       time(appt.get("start")), time(appt.get("end")),
                       intern(t_ods, t_ods) if t_ods else None, intern(p_ods, p_ods) if p_ods else None)
                if not ubrn or not isinstance(ubrn, str):
                    # A trust's booking made straight at its PAS (no broker, no UBRN) is joined on its
                    # own identity, the PAS's Appointment id, so it is still reconciled. A practice's
                    # request the broker never answered has no booking to join: it stays unjoined.
                    if self.party != "pas" or not appt.get("id"):
                        unjoined += 1
                        continue
                    ubrn = f"{self.party}:{t_ods or ''}/Appointment/{appt['id']}"
            except (AttributeError, TypeError, IndexError):
                malformed += 1
                continue
            ubrn = intern(ubrn, ubrn)
            read += 1
            if ubrn in first:
                extra.setdefault(ubrn, []).append(rec)
            else:
                first[ubrn] = rec
        self.records += read
        self.unjoined += unjoined
        self.malformed += malformed

    def ingest_lines(self, lines: Iterable[bytes], trust: str | None = None, practice: str | None = None) -> None:
        """Adds NDJSON lines, one Appointment each; blank lines are skipped, bad JSON counted."""
        self.ingest(self._parsed(lines), trust, practice)

    def _parsed(self, lines: Iterable[bytes]) -> Iterator:
        loads = orjson.loads
        for line in lines:
            if not line or line.isspace():
                continue
            try:
                yield loads(line)
            except orjson.JSONDecodeError:
                self.malformed += 1

    def load_ndjson(self, path: Path, chunk_size: int = 8 << 20, **defaults) -> None:
        """Reads an NDJSON file (a party's bulk export saved to disk)."""
        splitter = LineSplitter()
        with open(path, "rb") as fh, gc_paused():
            while chunk := fh.read(chunk_size):
                self.ingest_lines(splitter.feed(chunk), **defaults)
            self.ingest_lines(splitter.end(), **defaults)
        self.read.append(f"{path} (file)")


class LineSplitter:
    """Cuts a byte stream into lines, whatever the chunk boundaries."""

    def __init__(self):
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._rest:
            chunk = self._rest + chunk
        lines = chunk.split(b"\n")
        self._rest = lines.pop()
        return lines

    def end(self) -> list[bytes]:
        rest, self._rest = self._rest, b""
        return [rest] if rest.strip() else []


@contextmanager
def gc_paused():
    """Millions of small tuples would trigger the cycle collector over and over for nothing:
    none of them can be part of a cycle."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def record_view(rec: Record | None) -> dict | None:
    if rec is None:
        return None
    return {name: rec[i] for i, name in enumerate(FIELDS) if rec[i] is not None}

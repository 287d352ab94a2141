"""What a run folder holds so it can be replayed and traced, and reading it back.

Besides the journal and the reconciliation every run writes, a replayable folder has:
- manifest.json: format version, seed, the request-id salt the workload used;
- messages.jsonl: the body (and method, URL) of every message the broker journaled, by journal seq;
- views.jsonl: each booking as every party holds it at the end of the run: the capture that
  `testbed reconcile --run` and `testbed check --run` read, so that a folder is judged from what the
  run saw and never from whatever stack happens to answer on the ports later.

A run with legacy trusts (docs/legacy-pas.md) keeps too:
- middleware-journal.jsonl: the middleware's journal (each entry marked `"journal": "middleware"`),
  scored beside the broker's;
- legacy-extract.json: the legacy PAS's appointments extract, the trust's record of those trusts
  (already in views.jsonl as their `pas` records);
- middleware-queue.json: the middleware's queue at the end (`GET /queue`): each restart, when, why and
  what it lost, which no journal entry records (a trace names the restart that lost a booking, a
  replay compares them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from harness.cli.errors import UsageError
from harness.stack.endpoints import StackUrls
from harness.reconcile.records import FIELDS, PartyRecords, Strings
from harness.reconcile.report import Reconciliation
from harness.run.folder import write_json, write_jsonl

MIDDLEWARE_JOURNAL = "middleware-journal.jsonl"
LEGACY_EXTRACT = "legacy-extract.json"
MIDDLEWARE_QUEUE = "middleware-queue.json"
FORMAT = "testbed-run"
VERSION = 1


class RunFolderError(UsageError, ValueError):
    """A run folder that cannot be replayed or traced: one line for the user."""


async def read_messages(client: httpx.AsyncClient, urls: StackUrls, since: int) -> list[dict]:
    rows: list[dict] = []
    while True:
        r = await client.get(f"{urls.broker}/journal/messages", params={"since": since, "_count": 5000})
        if r.status_code != 200:
            return rows  # a broker from before message bodies were kept: the folder replays, one booking cannot
        page = r.json()
        rows += page["messages"]
        if len(page["messages"]) < 5000:
            return rows
        since = page["last"]


async def save_replay_material(client: httpx.AsyncClient, urls: StackUrls, folder: Path, *, since: int,
                               id_salt: str, reconciliation: Reconciliation) -> None:
    write_jsonl(folder / "messages.jsonl", await read_messages(client, urls, since))
    write_jsonl(folder / "views.jsonl", ({"ubrn": u, **reconciliation.views(u)}
                                         for u in reconciliation.checked_ubrns()))
    write_json(folder / "manifest.json", {"format": FORMAT, "version": VERSION, "id_salt": id_salt,
                                          "journal_since": since})


def read_jsonl(path: Path) -> list[dict]:
    with path.open("rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]


@dataclass
class RunRecord:
    folder: Path
    manifest: dict
    scenario: dict
    summary: dict

    @property
    def urls(self) -> dict[str, str]:
        return self.summary.get("run", {}).get("urls", {})

    @property
    def id_salt(self) -> str:
        return self.manifest["id_salt"]

    def journal(self) -> list[dict]:
        return read_jsonl(self.folder / "journal.jsonl")

    def middleware_journal(self) -> list[dict]:
        """The middleware's journal of a run with legacy trusts; empty for any other."""
        return middleware_journal(self.folder)

    def middleware_restarts(self) -> list[dict]:
        """The middleware's restarts (`GET /queue`'s `restarts`); empty for a run without legacy trusts,
        or one recorded before they were kept."""
        path = self.folder / MIDDLEWARE_QUEUE
        return (_json_file(path).get("restarts") or []) if path.is_file() else []

    def messages(self) -> dict[int, dict]:
        return {m["seq"]: m for m in read_jsonl(self.folder / "messages.jsonl")}

    def bookings(self) -> list[dict]:
        return read_jsonl(self.folder / "bookings.jsonl")

    def views(self) -> dict[str, dict]:
        return {v["ubrn"]: v for v in read_jsonl(self.folder / "views.jsonl")}

    def reconciliation(self) -> dict:
        return orjson.loads((self.folder / "reconciliation.json").read_bytes())


def middleware_journal(folder: Path) -> list[dict]:
    path = folder / MIDDLEWARE_JOURNAL
    return read_jsonl(path) if path.is_file() else []


def _json_file(path: Path) -> dict:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise RunFolderError(f"{path.parent} has no {path.name}: not a complete run folder") from None
    except orjson.JSONDecodeError as exc:
        raise RunFolderError(f"{path} is not valid JSON ({exc})") from None


def load_run(folder: Path) -> RunRecord:
    """Reads a run folder, refusing one that is missing, unfinished or of another format."""
    if not folder.is_dir():
        raise RunFolderError(f"no run folder {folder}")
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise RunFolderError(f"{folder} has no manifest.json: it was recorded before runs could be replayed;"
                             " record it again with `testbed run`")
    manifest = _json_file(manifest_path)
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise RunFolderError(f"{folder} is a {manifest.get('format')} v{manifest.get('version')} folder;"
                             f" this testbed replays {FORMAT} v{VERSION}")
    for name in ("journal.jsonl", "messages.jsonl", "bookings.jsonl", "views.jsonl"):
        if not (folder / name).exists():
            raise RunFolderError(f"{folder} has no {name}: not a complete run folder")
    return RunRecord(folder, manifest, _json_file(folder / "scenario.json"), _json_file(folder / "summary.json"))


PARTIES = ("broker", "pas", "spine", "gp")


def load_capture(folder: Path) -> dict[str, PartyRecords]:
    """Each party's records of the run's bookings as the run captured them at its end (views.jsonl),
    in the form the reconciler reads from live parties: reconciling them again gives the run's answer.

    Raises RunFolderError when the folder has no capture (a run that stopped part-way, or a folder
    from before captures were kept) or it cannot be read.
    """
    path = folder / "views.jsonl"
    if not path.is_file():
        raise RunFolderError(f"{folder} holds no capture of the parties' records ({path.name}): "
                             f"{_why_no_capture(folder)}")
    strings = Strings()
    out = {name: PartyRecords(name, strings) for name in PARTIES}
    try:
        for view in read_jsonl(path):
            ubrn = view["ubrn"]
            for name in ("broker", "spine", "gp"):
                if view.get(name):
                    out[name].add(ubrn, tuple(view[name].get(f) for f in FIELDS))
            for pas in view.get("pas") or []:
                out["pas"].add(ubrn, tuple(pas.get(f) for f in FIELDS))
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise RunFolderError(f"{path} cannot be read ({type(exc).__name__}: {exc})") from None
    for records in out.values():
        records.read.append(f"{path} (captured at the end of the run)")
    return out


def _why_no_capture(folder: Path) -> str:
    try:
        summary = orjson.loads((folder / "summary.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return "not a complete run folder"
    stopped = summary.get("incomplete") if isinstance(summary, dict) else None
    if stopped:
        return f"the run stopped while {stopped.get('while', stopped.get('stage'))}, before it read the parties"
    return "it was recorded before runs kept one; record it again with `testbed run`"


def newest_run(runs_dir: Path) -> Path:
    folders = sorted(p for p in runs_dir.glob("*") if (p / "manifest.json").exists()) if runs_dir.is_dir() else []
    if not folders:
        raise RunFolderError(f"no replayable run folder under {runs_dir}")
    return folders[-1]

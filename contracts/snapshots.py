"""Interface snapshots: each party's OpenAPI document and CapabilityStatements, kept beside its contract.

A party whose interface changes while its snapshot stays the same fails CI: the contract (checks,
rules, pacts) has to be looked at and the snapshot updated with `testbed contract snapshot --update`.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from .data import SNAPSHOTS_DIR

# party -> (package, the CapabilityStatement paths it serves)
PARTIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "broker": ("booking_broker", ("/metadata",)),
    "spine": ("spine_mock", ("/metadata",)),
    "pas": ("trust_pas", ("/metadata", "/RT1/metadata")),
    "gp": ("gp_system", ("/metadata",)),
}
KINDS = ("openapi", "capability")
UPDATE_HINT = "if the change is intended, check the contract still holds and run `testbed contract snapshot --update`"


def normalise(kind: str, doc: Any) -> Any:
    """Drops what changes without the interface changing: dates and software versions."""
    doc = json.loads(json.dumps(doc))
    if kind == "openapi":
        doc.get("info", {}).pop("version", None)
    else:
        for statement in doc.values():
            statement.pop("date", None)
            statement.get("software", {}).pop("version", None)
    return doc


@asynccontextmanager
async def served(party: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The party's app, started on a scratch database, and a client reaching it in-process.

    Its public URL is the client's base, so what the app says of its own address (its
    CapabilityStatements' `implementation.url`, messaging endpoints) is the same wherever it is built.
    """
    package, _paths = PARTIES[party]
    module = importlib.import_module(f"{package}.app")
    settings_cls = importlib.import_module(f"{package}.settings").Settings
    base = f"http://{party}.test"
    with tempfile.TemporaryDirectory() as tmp:
        app = module.create_app(settings_cls(database_url=f"sqlite+aiosqlite:///{tmp}/{party}.db",
                                             log_level="WARNING", public_url=base))
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base))
            yield app, client


async def live_documents(party: str) -> dict[str, Any]:
    """The party's documents as its app (built here, on a scratch database) serves them, normalised."""
    async with served(party) as (_app, client):
        openapi = (await client.get("/openapi.json")).json()
        capability = {path: (await client.get(path)).json() for path in PARTIES[party][1]}
    return {"openapi": normalise("openapi", openapi), "capability": normalise("capability", capability)}


def snapshot_path(party: str, kind: str) -> Path:
    return SNAPSHOTS_DIR / f"{party}.{kind}.json"


def read_snapshot(party: str, kind: str) -> Any | None:
    path = snapshot_path(party, kind)
    return json.loads(path.read_text()) if path.is_file() else None


def write_snapshot(party: str, kind: str, doc: Any) -> Path:
    path = snapshot_path(party, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path


def differences(old: Any, new: Any, where: str = "$", limit: int = 10) -> list[str]:
    """Where two JSON documents differ, as paths (at most `limit`)."""
    out: list[str] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if key not in a:
                    out.append(f"{at}.{key} added")
                elif key not in b:
                    out.append(f"{at}.{key} removed")
                else:
                    walk(a[key], b[key], f"{at}.{key}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{at}[{i}]")
        elif a != b:
            out.append(f"{at} changed")

    walk(old, new, where)
    return out


async def compare(party: str) -> dict[str, list[str]]:
    """kind -> differences between the snapshot and the live app (empty lists when they agree)."""
    live = await live_documents(party)
    out = {}
    for kind in KINDS:
        saved = read_snapshot(party, kind)
        out[kind] = ["no snapshot yet"] if saved is None else differences(saved, live[kind])
    return out


async def update(party: str) -> list[Path]:
    live = await live_documents(party)
    return [write_snapshot(party, kind, live[kind]) for kind in KINDS]

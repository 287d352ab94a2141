"""The provider side of the pacts: provider states set up over plain HTTP, then Pact's verifier."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import orjson
from pact import Verifier

from party_common.booking import read_booking
from party_common.messaging import BOOKING_REQUEST, read_message

from .data import example
from .messages import to_pas
from .pact_interactions import FHIR


def _as_booking_request(message: dict, ubrn: str | None = None) -> dict:
    """The booking-request that put a cancel's (or rival's) booking in place: a new message (new ids),
    the same booking (same slot, patient, practice and trust), booked, under `ubrn` when given."""
    facts = read_booking(read_message(message)).facts
    return to_pas(BOOKING_REQUEST, replace(facts, status="booked", ubrn=ubrn or facts.ubrn))


def state_handler(base_url: str) -> Callable[..., None]:
    """Puts a provider of ours (or any provider answering the same messages) in each pact state."""
    def post(path: str, message: dict) -> None:
        r = httpx.post(f"{base_url.rstrip('/')}{path}", content=orjson.dumps(message),
                       headers={"Content-Type": FHIR}, timeout=30)
        if r.status_code >= 500:
            raise RuntimeError(f"state set-up {path} answered {r.status_code}: {r.text[:200]}")

    def handler(state: str, action: str = "setup", parameters: dict | None = None) -> None:
        if action != "setup":
            return
        params = parameters or {}
        inbox = f"/{params['ods']}/$process-message" if params.get("ods") else "/$process-message"
        if state == "the message was already processed":
            post(inbox, example(params["example"]))
        elif state == "the UBRN is booked":
            post(inbox, _as_booking_request(example(params["example"])))
        elif state == "the slot is booked under another UBRN":
            post(inbox, _as_booking_request(example(params["example"]), ubrn="990000000003"))
        # "the slot is free", "the service has free slots", "the patient is known": true of a fresh
        # testbed stack (its calendar and synthetic population); a real system needs them arranged.
    return handler


def verify_pact(pact_file: Path, base_url: str) -> None:
    """Replays a pact against the provider at base_url; raises with Pact's report when it is broken."""
    provider = pact_file.stem.split("-", 1)[1]
    try:
        httpx.get(f"{base_url.rstrip('/')}/metadata", timeout=10)
    except httpx.HTTPError as exc:
        # Without this, Pact retries every state set-up with back-off for minutes before giving up.
        raise ConnectionError(f"{base_url} is unreachable ({type(exc).__name__})") from exc
    host = httpx.URL(base_url).host
    verifier = (Verifier(provider, host=host).add_transport(url=base_url).add_source(str(pact_file))
                .state_handler(state_handler(base_url), teardown=False)
                # The broker, as BaRS's proxy, requires them on every FHIR request it is sent.
                .add_custom_headers({"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}))
    verifier.verify()


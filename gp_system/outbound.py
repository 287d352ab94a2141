"""Calls to the spine and the broker, with their failures turned into the answers we give."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson
import structlog

from party_common.http_client import fhir_post_headers
from party_common.outcome import FhirError, Issue, business_rule

log = structlog.get_logger("outbound")


def transient(diagnostics: str) -> FhirError:
    return FhirError(503, "transient", diagnostics)


def _json(resp: httpx.Response) -> dict | None:
    try:
        body = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _passed_on(resp: httpx.Response, who: str) -> FhirError:
    """A downstream refusal (4xx) answered with its own status and OperationOutcome."""
    body = _json(resp)
    if body and body.get("resourceType") == "OperationOutcome" and body.get("issue"):
        issues = [Issue.from_json(i) for i in body["issue"]]
        return FhirError(resp.status_code, issues[0].code, issues[0].diagnostics, issues=issues)
    return FhirError(resp.status_code, "processing", f"{who} refused the request with HTTP {resp.status_code}")


async def spine_knows_patient(client: httpx.AsyncClient, spine_url: str, nhs_number: str) -> bool:
    try:
        resp = await client.get(f"{spine_url.rstrip('/')}/Patient/{nhs_number}")
    except httpx.HTTPError as exc:
        log.warning("spine unreachable", error=repr(exc))
        raise transient(f"the spine could not be reached to check the NHS number: {type(exc).__name__}") from exc
    if resp.status_code == 200:
        return True
    if resp.status_code == 404:
        return False
    raise transient(f"the spine answered HTTP {resp.status_code} to the NHS number check")


@dataclass
class FreeSlot:
    slot_id: str
    service_id: str
    start: str | None
    end: str | None


async def first_free_slot(client: httpx.AsyncClient, broker_url: str, *, start: str,
                          specialty: str | None, service: str | None) -> FreeSlot | None:
    params = {"status": "free", "start": f"ge{start}", "_count": "1"}
    if service:
        params["service"] = service
    else:
        params["specialty"] = specialty or ""
    try:
        resp = await client.get(f"{broker_url.rstrip('/')}/Slot", params=params)
    except httpx.HTTPError as exc:
        log.warning("broker unreachable", call="slot search", error=repr(exc))
        raise transient(f"the broker could not be reached for a slot search: {type(exc).__name__}") from exc
    if resp.status_code >= 500:
        raise transient(f"the broker's slot search answered HTTP {resp.status_code}")
    if resp.status_code != 200:
        raise _passed_on(resp, "the broker's slot search")
    body = _json(resp) or {}
    for entry in body.get("entry") or []:
        slot = entry.get("resource") or {}
        if slot.get("resourceType") != "Slot" or not slot.get("id"):
            continue
        # The broker's Schedule ids are the service ids, one Schedule per service.
        ref = (slot.get("schedule") or {}).get("reference") or ""
        service_id = ref.split("/", 1)[1] if ref.startswith("Schedule/") else service
        if not service_id:
            raise transient(f"the broker's slot {slot['id']} names no Schedule")
        return FreeSlot(slot_id=slot["id"], service_id=service_id, start=slot.get("start"), end=slot.get("end"))
    # No slot, but a trust could not be searched (its PAS down, the search lost): the answer is not
    # known, so the practice hears 503 and may ask again, never a permanent "no free slot".
    missing = [issue.get("diagnostics") or "a trust could not be searched"
               for entry in body.get("entry") or [] if (entry.get("search") or {}).get("mode") == "outcome"
               for issue in (entry.get("resource") or {}).get("issue") or [] if issue.get("code") == "transient"]
    if missing:
        raise transient(f"no free slot found, but the broker's slot search was incomplete: {missing[0]}")
    return None


async def send_to_broker(client: httpx.AsyncClient, broker_url: str, bundle: dict) -> tuple[dict, bytes]:
    """POSTs a message to the broker; returns its 200 response message, read and as received.

    Raises FhirError 503 when the outcome is unknown (unreachable, timeout, 5xx, unreadable) and
    the broker's own status and OperationOutcome when it refused the message (4xx).
    """
    try:
        resp = await client.post(f"{broker_url.rstrip('/')}/$process-message", content=orjson.dumps(bundle),
                                 headers=fhir_post_headers())
    except httpx.HTTPError as exc:
        log.warning("broker unreachable", call="process-message", error=repr(exc))
        raise transient(f"the broker could not be reached: {type(exc).__name__}; "
                        "the request is kept and may be retried") from exc
    if resp.status_code >= 500:
        raise transient(f"the broker answered HTTP {resp.status_code}; the request may be retried")
    if resp.status_code != 200:
        raise _passed_on(resp, "the broker")
    body = _json(resp)
    if not body or body.get("resourceType") != "Bundle":
        raise transient("the broker's answer is not a Bundle; the request may be retried")
    return body, resp.content


def no_free_slot(specialty: str | None, service: str | None, start: str) -> FhirError:
    what = f"service {service}" if service else f"specialty {specialty}"
    return business_rule(f"no free slot for {what} from {start}", "Parameters.parameter")


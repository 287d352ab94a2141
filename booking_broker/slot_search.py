"""Choose: free slots across every trust that offers the wanted service or specialty."""

from __future__ import annotations

from party_common.outcome import FhirError

from .directory import Directory
from .courier import Courier
from .outcomes import REJECTED


async def search_slots(directory: Directory, courier: Courier, *, service: str | None, specialty: str | None,
                       start: list[str], count: int) -> list[dict]:
    await directory.ensure_loaded()
    if service:
        svc = await directory.service(service)
        if svc is None:
            raise FhirError(404, "not-found", f"no trust offers service {service!r}", ["service"])
        targets = [svc]
    else:
        targets = [s for s in directory.services.values() if s.specialty == specialty]
    if not targets:
        return []

    async def one(svc):
        params: list[tuple[str, str | int]] = [("service", svc.id), ("status", "free"), ("_count", count)]
        params += [("start", s) for s in start]
        d = await courier.send(f"broker->pas:{svc.trust_ods}", "slot-search", "GET",
                               f"{directory.pas_base(svc.trust_ods)}/Slot", params=params)
        if d.outcome == REJECTED and d.body:
            issue = (d.body.get("issue") or [{}])[0]
            raise FhirError(d.status or 400, issue.get("code", "invalid"), issue.get("diagnostics", "refused"),
                            issue.get("expression"))
        if not d.ok or not d.body:
            return []  # a trust that is down offers no slots; the search goes on without it
        return [e["resource"] for e in d.body.get("entry", []) if e.get("resource", {}).get("resourceType") == "Slot"]

    results = await courier.engine.clock.fan_out(*(one(s) for s in targets))
    slots = [slot for group in results for slot in group]
    slots.sort(key=lambda s: (s.get("start", ""), s.get("id", "")))
    return slots[:count]

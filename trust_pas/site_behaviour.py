"""How each site of a trust answers: the two sites of a merged trust need not run the same system.

The trusts of the 2007 study had two main sites each after an earlier merger, with different
electronic functions at each site. `PAS_SITES` (JSON, keyed by site code) makes one site's system
slow and intermittently unavailable while its sister site answers normally:

    PAS_SITES='{"RT102": {"unavailable": 0.4, "delay_ms": 50}}'

A message is routed to the site of the slot its Appointment names. An unavailable answer is a 503
OperationOutcome (`transient`) given before the message is processed or remembered, so the same
message sent again is a fresh attempt, as it would be at a system that was down.

Which messages find a site unavailable is drawn per message (its Bundle.id, and how many times it
came before), not per place in the site's traffic, so the same seed turns away the same messages
whatever order concurrent bookings arrive in.
"""

from __future__ import annotations

import asyncio

from party_common.keyed_draws import Occurrences, keyed_unit
from party_common.outcome import FhirError
from party_common.site_behaviour import SiteBehaviour

from party_common.trusts.catalogue import Trust


class SiteDesk:
    """Applies each site's behaviour to the messages for it, with a seeded draw per message."""

    def __init__(self, behaviours: dict[str, SiteBehaviour], seed: int):
        self.behaviours = {code.upper(): b for code, b in behaviours.items()}
        self.seed = seed
        self._seen = Occurrences()

    def site_of(self, trust: Trust, bundle: dict) -> str | None:
        """The site whose slot the message books: its Slot entry's id names the service (and so the
        site); a message about none of this trust's slots is no site's."""
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(res, dict) or res.get("resourceType") != "Slot" or not isinstance(res.get("id"), str):
                continue
            service = trust.services.get(res["id"].rsplit("-", 1)[0])
            if service is not None:
                return service.site.code
        return None

    async def answer(self, trust: Trust, bundle: dict) -> None:
        """Waits and/or raises as the message's site would; returns when the site takes the message."""
        if not self.behaviours:
            return
        code = self.site_of(trust, bundle) or ""
        behaviour = self.behaviours.get(code)
        if behaviour is None:
            return
        if behaviour.delay_ms:
            await asyncio.sleep(behaviour.delay_ms / 1000)
        if behaviour.unavailable and self._draw(code, bundle) < behaviour.unavailable:
            raise FhirError(503, "transient", f"site {code} of trust {trust.ods} is not answering; try again later")

    def _draw(self, code: str, bundle: dict) -> float:
        message = (code, bundle.get("id"))
        return keyed_unit("site", self.seed, message, self._seen.next(message))

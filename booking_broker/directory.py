"""The service directory: which trusts exist, where their PAS lives, which services each offers, and
which practices the broker can confirm to; services and practices by id and by DoS id."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from party_common.booking import service_dos
from party_common.identifiers import DOS_SYSTEM, ODS_SYSTEM, SPECIALTY_SYSTEM, dos_id, identifier_value
from party_common.outcome import FhirError

from party_common.links.courier import ORIGIN, Courier
from booking_broker.settings import Settings

log = structlog.get_logger("directory")


@dataclass
class Service:
    id: str
    trust_ods: str
    specialty: str | None
    resource: dict
    dos: str


class Directory:
    def __init__(self, settings: Settings, courier: Courier):
        self.settings = settings
        self.courier = courier
        self.trusts: dict[str, str] = {}
        self.services: dict[str, Service] = {}
        # Trusts whose services could not be read at the last load (down, or the read dropped).
        self.unread: set[str] = set()
        self.services_by_dos: dict[str, Service] = {}
        # ODS code -> (Organization, the URL it is read at): the trusts a PAS root listed. A trust
        # given by its endpoint alone has none here, so searches cannot include it.
        self.organizations: dict[str, tuple[dict, str]] = {}
        # ODS code -> DoS id of each practice the broker can confirm to; None until read.
        self.practices: dict[str, str] | None = None
        self._lock = asyncio.Lock()
        self._practices_lock = asyncio.Lock()
        self._loaded = False

    def pas_base(self, ods: str) -> str:
        return self.trusts[ods]

    def gp_base(self, ods: str) -> str:
        return self.settings.gp_endpoints.get(ods) or f"{self.settings.gp_url.rstrip('/')}/{ods}"

    async def ensure_loaded(self, refresh: bool = False) -> None:
        if self._loaded and not refresh:
            return
        async with self._lock:
            if self._loaded and not refresh:
                return
            await self._load()
            self._loaded = True

    async def _load(self) -> None:
        trusts = {ods: url.rstrip("/") for ods, url in self.settings.pas_endpoints.items()}
        organizations: dict[str, tuple[dict, str]] = {}
        # The PAS at pas_url is asked unless trusts are named one by one; every extra root (a trust's
        # middleware standing for a legacy PAS) is asked always, the same way.
        roots = ([] if trusts else [self.settings.pas_url]) + list(self.settings.trust_roots)
        for root in (r.rstrip("/") for r in roots):
            d = await self.courier.send("broker->pas", "directory", "GET", f"{root}/Organization")
            if not d.ok or not d.body:
                raise FhirError(503, "transient", f"the PAS directory at {root} could not be read ({d.outcome})")
            for entry in d.body.get("entry", []):
                org = entry.get("resource", {})
                if org.get("resourceType") != "Organization":
                    continue
                for ident in org.get("identifier", []):
                    if ident.get("system") == ODS_SYSTEM:
                        trusts[ident["value"]] = f"{root}/{ident['value']}"
                        if org.get("id"):
                            organizations[org["id"]] = (org, f"{root}/Organization/{org['id']}")
        services: dict[str, Service] = {}
        unread: set[str] = set()
        for ods, base in trusts.items():
            d = await self.courier.send(f"broker->pas:{ods}", "directory", "GET", f"{base}/HealthcareService",
                                        params={"_count": 1000})
            if not d.ok or not d.body:
                # A trust down (or its answer dropped) for a moment still offers what it offered: keep
                # its services as last read, and remember it was not heard, so a service missing
                # here is "try again" (503), not "no trust offers it".
                log.warning("trust directory unreadable", trust=ods, outcome=d.outcome)
                unread.add(ods)
                services.update({k: s for k, s in self.services.items() if s.trust_ods == ods})
                continue
            for entry in d.body.get("entry", []):
                res = entry.get("resource", {})
                if res.get("resourceType") != "HealthcareService" or not res.get("id"):
                    continue
                dos = identifier_value(res, DOS_SYSTEM) or service_dos(res["id"])
                services[res["id"]] = Service(res["id"], ods, _specialty(res), res, dos)
        self.trusts = trusts
        self.unread = unread
        self.services = services
        self.services_by_dos = {s.dos: s for s in services.values()}
        self.organizations = organizations
        log.info("directory loaded", trusts=len(trusts), services=len(services))

    async def service_by_dos(self, dos: str) -> Service | None:
        await self.ensure_loaded()
        svc = self.services_by_dos.get(dos)
        if svc is None:
            await self.ensure_loaded(refresh=True)
            svc = self.services_by_dos.get(dos)
        return svc

    async def practice_ods(self, ods: str) -> str | None:
        """The practice's ODS code as listed, if the broker can confirm to it (case as listed)."""
        practices = await self._practices()
        return next((code for code in practices if code.upper() == ods.upper()), None)

    async def practice_by_dos(self, dos: str) -> str | None:
        practices = await self._practices()
        return next((code for code, d in practices.items() if d == dos), None)

    async def _practices(self) -> dict[str, str]:
        """Practices named in settings, and those the GP system lists; read once it answers.

        A GP system that cannot be read is a transient failure (503), never a refusal of the practice.
        """
        if self.practices is not None:
            return self.practices
        # One read however many bookings ask at once: the journal (and a replay) sees it once.
        async with self._practices_lock:
            if self.practices is not None:
                return self.practices
            return await self._read_practices()

    async def _read_practices(self) -> dict[str, str]:
        known = {ods: dos_id("practice", ods) for ods in self.settings.gp_endpoints}
        root = self.settings.gp_url.rstrip("/")
        # Journaled as no booking's: whichever booking happens to need it first must not show in the
        # journal (a replay, whose arrivals may come in another order, would differ).
        token = ORIGIN.set(None)
        try:
            d = await self.courier.send("broker->gp", "directory", "GET", f"{root}/Organization")
        finally:
            ORIGIN.reset(token)
        if d.ok and d.body:
            for entry in d.body.get("entry", []):
                org = entry.get("resource") or {}
                ods = identifier_value(org, ODS_SYSTEM)
                if org.get("resourceType") == "Organization" and ods:
                    known[ods] = identifier_value(org, DOS_SYSTEM) or dos_id("practice", ods)
            self.practices = known
        elif not known:
            raise FhirError(503, "transient", f"the practice directory at {root} could not be read ({d.outcome})")
        return known

    async def named(self, value: str) -> Service | None:
        """The service a search value names: its id here or its DoS id (ids first)."""
        await self.ensure_loaded()
        for refresh in (False, True):
            if refresh:
                await self.ensure_loaded(refresh=True)
            svc = self.services.get(value) or self.services_by_dos.get(value)
            if svc is not None:
                return svc
        return None

    def slot_owner(self, slot_id: str) -> Service | None:
        """The service a slot id names as its prefix (`<service id>-<start>`), as our trusts write them;
        None for a slot id of another shape."""
        owners = [s for s in self.services.values() if slot_id.startswith(f"{s.id}-")]
        return max(owners, key=lambda s: len(s.id)) if owners else None

    async def service(self, service_id: str) -> Service | None:
        await self.ensure_loaded()
        svc = self.services.get(service_id)
        if svc is None:
            await self.ensure_loaded(refresh=True)
            svc = self.services.get(service_id)
        return svc


def _specialty(res: dict) -> str | None:
    for field in ("type", "specialty", "category"):
        for cc in res.get(field) or []:
            for c in cc.get("coding") or []:
                if c.get("system") == SPECIALTY_SYSTEM:
                    return c.get("code")
    return None

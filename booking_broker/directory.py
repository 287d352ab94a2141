"""The service directory: which trusts exist, where their PAS lives, which services each offers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from party_common.identifiers import ODS_SYSTEM, SPECIALTY_SYSTEM
from party_common.outcome import FhirError

from .courier import Courier
from .settings import Settings

log = structlog.get_logger("directory")


@dataclass
class Service:
    id: str
    trust_ods: str
    specialty: str | None
    resource: dict


class Directory:
    def __init__(self, settings: Settings, courier: Courier):
        self.settings = settings
        self.courier = courier
        self.trusts: dict[str, str] = {}
        self.services: dict[str, Service] = {}
        self._lock = asyncio.Lock()
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
        if not trusts:
            root = self.settings.pas_url.rstrip("/")
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
        services: dict[str, Service] = {}
        for ods, base in trusts.items():
            d = await self.courier.send(f"broker->pas:{ods}", "directory", "GET", f"{base}/HealthcareService",
                                        params={"_count": 1000})
            if not d.ok or not d.body:
                log.warning("trust directory unreadable", trust=ods, outcome=d.outcome)
                continue
            for entry in d.body.get("entry", []):
                res = entry.get("resource", {})
                if res.get("resourceType") != "HealthcareService" or not res.get("id"):
                    continue
                services[res["id"]] = Service(res["id"], ods, _specialty(res), res)
        self.trusts = trusts
        self.services = services
        log.info("directory loaded", trusts=len(trusts), services=len(services))

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

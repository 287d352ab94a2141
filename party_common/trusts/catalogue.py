"""The trusts a PAS hosts (the FHIR trust PAS, the legacy v2 PAS behind its middleware): sites, specialties and weekly clinic templates, laid over the calendar.

What a catalogue holds, and the default one, are shared with the harness (party_common/trust_catalogue.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from party_common.booking import service_dos
from party_common.trust_catalogue import DEFAULT_TRUSTS, SPECIALTY_NAMES, SessionSpec, TrustSpec

from party_common.trusts.schedule import ClinicSession, WeeklyTemplate, minute_to_stamp, stamp_to_minute


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    trust_ods: str


@dataclass
class Service:
    id: str
    trust_ods: str
    site: Site
    specialty: str
    template: WeeklyTemplate

    @property
    def specialty_display(self) -> str:
        return SPECIALTY_NAMES.get(self.specialty, self.specialty.replace("-", " ").capitalize())

    @property
    def name(self) -> str:
        return f"{self.specialty_display} outpatients, {self.site.name}"

    def slot_id(self, k: int) -> str:
        return f"{self.id}-{minute_to_stamp(self.template.start_minute(k))}"


@dataclass
class Trust:
    ods: str
    name: str
    size: str
    alias: list[str]
    sites: list[Site]
    services: dict[str, Service] = field(default_factory=dict)

    @cached_property
    def by_dos(self) -> dict[str, Service]:
        """The services by DoS id, the id BaRS addresses a service by (read after the catalogue is built)."""
        return {service_dos(s.id): s for s in self.services.values()}

    def slot(self, slot_id: str) -> tuple[Service, int] | None:
        """(service, ordinal) of a slot id of this trust's calendar; None when there is no such slot."""
        service_id, _, stamp = slot_id.rpartition("-")
        service = self.services.get(service_id)
        minute = stamp_to_minute(stamp)
        if service is None or minute is None:
            return None
        k = service.template.ordinal_of(minute)
        return None if k is None else (service, k)


@dataclass
class Catalogue:
    trusts: dict[str, Trust]

    def trust(self, ods: str) -> Trust | None:
        return self.trusts.get(ods.upper())

    @property
    def services(self) -> list[Service]:
        return [s for t in self.trusts.values() for s in t.services.values()]


def service_id(ods: str, site: str, specialty: str) -> str:
    return f"{ods}-{site}-{specialty}".lower()


def _clinic_session(spec: SessionSpec) -> ClinicSession:
    return ClinicSession(tuple(int(d) for d in spec.days), spec.start, spec.end, spec.slot_minutes)


def build_catalogue(specs: list[dict] | None, calendar_start: date, horizon_days: int) -> Catalogue:
    """The catalogue with each service's template laid over the calendar; raises on bad data."""
    trusts: dict[str, Trust] = {}
    for raw in specs if specs is not None else DEFAULT_TRUSTS:
        spec = TrustSpec.model_validate(raw)
        ods = spec.ods.upper()
        if ods in trusts:
            raise ValueError(f"trust {ods} listed twice")
        trust = Trust(ods=ods, name=spec.name, size=spec.size, alias=spec.alias, sites=[])
        for site_spec in spec.sites:
            site = Site(code=site_spec.code.upper(), name=site_spec.name, trust_ods=ods)
            trust.sites.append(site)
            sessions = [_clinic_session(s) for s in (site_spec.sessions or spec.sessions)]
            template = WeeklyTemplate(sessions, calendar_start, horizon_days)
            for specialty in site_spec.specialties:
                sid = service_id(ods, site.code, specialty)
                if sid in trust.services:
                    raise ValueError(f"service {sid} listed twice")
                trust.services[sid] = Service(sid, ods, site, specialty, template)
        trusts[ods] = trust
    return Catalogue(trusts)

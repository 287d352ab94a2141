"""Route dependencies: what the app keeps in `app.state`, and the trust a `/{ods}/...` path names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from party_common.links.courier import Courier
from party_common.outcome import not_found
from party_common.trusts.catalogue import Catalogue, Trust

from middleware.forwarder import Forwarder


def _state(name: str):
    async def get(request: Request):
        return getattr(request.app.state, name)
    return get


async def get_trust(ods: str, request: Request) -> Trust:
    trust = request.app.state.catalogue.trust(ods)
    if trust is None:
        raise not_found(f"no trust with ODS code {ods!r} is behind this middleware")
    return trust


CatalogueDep = Annotated[Catalogue, Depends(_state("catalogue"))]
CourierDep = Annotated[Courier, Depends(_state("courier"))]
ForwarderDep = Annotated[Forwarder, Depends(_state("forwarder"))]
TrustDep = Annotated[Trust, Depends(get_trust)]


def trust_base(request: Request, trust: Trust) -> str:
    """The trust's FHIR base as the caller reached it."""
    return f"{str(request.base_url).rstrip('/')}/{trust.ods}"

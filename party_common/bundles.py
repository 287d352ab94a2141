"""Searchset Bundles with paging links."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from pydantic import AfterValidator

from party_common.messaging import now_iso

# The largest row offset the databases take (SQLite's and PostgreSQL's OFFSET are signed 64-bit
# integers); past it the query fails in the driver, so a search refuses it as a bad parameter.
MAX_OFFSET = 2**63 - 1


def _offset_in_range(value: int) -> int:
    if value > MAX_OFFSET:
        raise ValueError(f"must be at most {MAX_OFFSET}")
    return value


# For an offset query parameter: Annotated[int, Query(ge=0), WITHIN_OFFSET_RANGE]. Checked after
# parsing rather than declared as the parameter's maximum, which would change every party's published
# OpenAPI (and its contract snapshot) for a bound no real client comes near.
WITHIN_OFFSET_RANGE = AfterValidator(_offset_in_range)


def searchset(resources: list[dict], *, total: int | None, base_url: str, path: str,
              params: dict | None = None, offset: int = 0, count: int | None = None) -> dict:
    params = {k: v for k, v in (params or {}).items() if v is not None}
    links = [{"relation": "self", "url": _url(base_url, path, params, offset, count)}]
    if count is not None and total is not None and offset + count < total:
        links.append({"relation": "next", "url": _url(base_url, path, params, offset + count, count)})
    bundle: dict = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now_iso()},
        "type": "searchset",
        "link": links,
        "entry": [
            {"fullUrl": f"{base_url.rstrip('/')}/{r['resourceType']}/{r['id']}" if r.get("id") else None,
             "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }
    for e in bundle["entry"]:
        if e["fullUrl"] is None:
            del e["fullUrl"]
    if total is not None:
        bundle["total"] = total
    return bundle


def _url(base: str, path: str, params: dict, offset: int, count: int | None) -> str:
    q = dict(params)
    if count is not None:
        q["_count"] = count
    if offset:
        q["_offset"] = offset
    return f"{base.rstrip('/')}/{path.lstrip('/')}" + (f"?{urlencode(q, doseq=True)}" if q else "")

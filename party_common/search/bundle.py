"""The searchset Bundle a search answers with: matches, includes, `total`, and `self`/`next` links
that show the parameters actually applied."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from party_common.messaging import now_iso
from party_common.search.spec import SearchQuery


def _link(base: str, path: str, params: list[tuple[str, str]]) -> str:
    url = f"{base.rstrip('/')}/{path.lstrip('/')}"
    return f"{url}?{urlencode(params)}" if params else url


def _full_url(base: str) -> Callable[[dict], str]:
    return lambda r: f"{base.rstrip('/')}/{r['resourceType']}/{r['id']}"


def search_bundle(query: SearchQuery, matches: list[dict], *, total: int | None, base: str, path: str,
                  next_position: int | None = None, included: list[dict] | None = None,
                  full_url: Callable[[dict], str] | None = None, outcome: dict | None = None) -> dict:
    """A searchset; `next_position` is where the next page starts (None: this is the last page).

    `total` is left out when the client asked `_total=none` (unless all it asked for is the count), and
    may then be None.
    `full_url` gives an entry's fullUrl when the resource is read somewhere other than `base` (an
    included resource another party holds); every fullUrl must be readable.
    """
    where = full_url or _full_url(base)
    here = query.cursor if query.spec.paging == "cursor" else query.offset
    links = [{"relation": "self", "url": _link(base, path, query.link_params(here, by=query.paged_by))}]
    if next_position is not None and not query.total_only:
        links.append({"relation": "next", "url": _link(base, path, query.link_params(next_position))})
    entries = []
    if not query.total_only:
        for mode, resources in (("match", matches), ("include", included or [])):
            for r in resources:
                entry = {"fullUrl": where(r), "resource": r, "search": {"mode": mode}} if r.get("id") else \
                    {"resource": r, "search": {"mode": mode}}
                entries.append(entry)
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now_iso()},
        "type": "searchset",
        **({"total": total} if total is not None and (query.total_wanted or query.total_only) else {}),
        "link": links,
        # R4 bdl-1 style: an empty searchset carries no `entry` at all (an empty array is not valid JSON FHIR).
        **({"entry": entries} if entries else {}),
    }


def offset_next(query: SearchQuery, total: int) -> int | None:
    """The next page's offset for an offset-paged search, None on the last page."""
    end = query.offset + query.count
    return end if query.count and end < total else None

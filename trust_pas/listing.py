"""Searches over the catalogue: a short list held in memory, filtered, paged by offset, with includes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from party_common.search import SearchQuery, gather, offset_next, search_bundle

from party_common.trusts.catalogue import Trust
from trust_pas.trust_resources import resolver


def references_match(q: SearchQuery, name: str, ids: Iterable[str]) -> bool:
    """Every occurrence of reference parameter `name` names one of `ids`."""
    held = set(ids)
    return all(held & wanted for wanted in q.references(name))


def codings_match(q: SearchQuery, name: str, concepts: list[dict]) -> bool:
    return q.token_match(name, lambda t: any(t.matches_coding(c) for c in concepts))


def identifiers_match(q: SearchQuery, name: str, identifiers: list[dict]) -> bool:
    return q.token_match(name, lambda t: t.matches_any_identifier(identifiers))


async def list_search(q: SearchQuery, found: list[dict], *, base: str, path: str, trust: Trust | None = None,
                      always_included: Callable[[list[dict]], list[dict]] | None = None,
                      full_url: Callable[[dict], str] | None = None) -> dict:
    """The searchset of `found` (already filtered by the search's own parameters), `_id` applied here.

    `always_included` adds resources the page's matches bring with them unasked (FHIR lets a server
    include more than it was asked for).
    """
    ids = q.ids()
    if ids is not None:
        found = [r for r in found if r.get("id") in ids]
    page = found[q.offset:q.offset + q.count] if q.count else []
    included = await gather(page, q.includes, resolver(trust)) if trust is not None else []
    if always_included is not None:
        included += always_included(page)
    return search_bundle(q, page, total=len(found), base=base, path=path, next_position=offset_next(q, len(found)),
                         included=included, full_url=full_url)

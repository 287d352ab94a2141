"""`_include`: the resources a page's matches point to, added with `search.mode = include`.

Includes are followed from included resources as well as from matches (as `_include:iterate`
would), because BaRS asks for `_include=Slot:schedule&_include=Schedule:actor:HealthcareService`
and expects the HealthcareService, which only a Schedule points to; FHIR lets a server include more
than it was asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from party_common.search.spec import Include

# Reads one resource by type and id; None when the party cannot (the include is then left out).
Resolver = Callable[[str, str], Awaitable[dict | None]]

MAX_INCLUDED = 1000


def _references(resource: dict, element: str) -> list[str]:
    value = resource.get(element)
    items = value if isinstance(value, list) else [value]
    return [i["reference"] for i in items if isinstance(i, dict) and isinstance(i.get("reference"), str)]


def _type_and_id(reference: str) -> tuple[str, str] | None:
    if reference.startswith(("urn:", "#")):
        return None
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else None


async def gather(matches: list[dict], rules: list[Include], resolve: Resolver) -> list[dict]:
    """The resources `rules` reach from `matches`, each once, matches themselves left out."""
    if not rules:
        return []
    seen = {(r.get("resourceType"), r.get("id")) for r in matches}
    included: list[dict] = []
    frontier = list(matches)
    while frontier and len(included) < MAX_INCLUDED:
        reached: list[dict] = []
        for resource in frontier:
            for rule in rules:
                if resource.get("resourceType") != rule.source:
                    continue
                for reference in _references(resource, rule.element):
                    key = _type_and_id(reference)
                    if key is None or key in seen or key[0] not in rule.targets:
                        continue
                    seen.add(key)
                    found = await resolve(*key)
                    if found is not None:
                        reached.append(found)
        included.extend(reached)
        frontier = reached
    return included[:MAX_INCLUDED]

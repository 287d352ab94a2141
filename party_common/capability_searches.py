"""A CapabilityStatement's searches declared from the very specs the search routes parse with."""

from __future__ import annotations

from party_common.search import SearchSpec, capability_resource


def declare_searches(statement: dict, specs: list[SearchSpec]) -> dict:
    """Each spec's resource in `statement` (its server `rest`) declares what the spec honours.

    The resource keeps its interactions and operations; its search parameters and includes come
    from the spec, so the statement cannot promise a parameter the route ignores, or leave out
    one it honours. A spec whose resource is not listed is a mistake in the party, not a statement
    to publish half-true.
    """
    entries = {entry["type"]: entry for entry in statement["rest"][0]["resource"]}
    for spec in specs:
        entry = entries.get(spec.resource)
        if entry is None:
            raise ValueError(f"{spec.resource} is searched but not in the CapabilityStatement")
        interactions = [i["code"] for i in entry.get("interaction", [])]
        entry.pop("searchParam", None)
        entry.update(capability_resource(spec, interactions))
    return statement

"""A search spec as the CapabilityStatement and the OpenAPI document declare it."""

from __future__ import annotations

from party_common.search.paging import PAGE
from party_common.search.spec import SearchSpec

_SCHEMAS = {
    "token": {"type": "string", "pattern": r"^\S.*$"},
    "date": {"type": "string", "pattern": r"^(eq|ge|gt|le|lt)?\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                                          r"(Z|[+-]\d{2}:\d{2})?)?)?)?$"},
    "reference": {"type": "string"},
    "string": {"type": "string"},
    "number": {"type": "string"},
    "uri": {"type": "string"},
}


def capability_resource(spec: SearchSpec, interactions: list[str], *, profile: str | None = None) -> dict:
    """A CapabilityStatement.rest.resource entry: the interactions served and what search honours."""
    entry: dict = {"type": spec.resource, "interaction": [{"code": c} for c in interactions]}
    if profile:
        entry["profile"] = profile
    if spec.includes:
        entry["searchInclude"] = [s for rule in spec.includes for s in rule.spellings()]
    params = []
    for p in spec.declared():
        item = {"name": p.name, "type": p.type, "documentation": p.doc}
        if p.definition:
            item["definition"] = p.definition
        params.append(item)
    if params:
        entry["searchParam"] = params
    return entry


def openapi_parameters(spec: SearchSpec) -> list[dict]:
    """The query parameters of the search's GET, for the route's `openapi_extra`."""
    out = []
    for p in spec.declared():
        schema = _SCHEMAS[p.type]
        if p.codes:
            one = "(" + "|".join(p.codes) + ")"
            schema = {"type": "string", "pattern": f"^{one}(,{one})*$"}
        out.append({"name": p.name, "in": "query", "required": False, "description": p.doc,
                    "style": "form", "explode": True,
                    "schema": {"type": "array", "items": schema},
                    **({"example": [p.example]} if p.example else {})})
    out.append({"name": "_count", "in": "query", "required": False,
                "description": f"Page size; above {spec.max_count} is served as {spec.max_count}; "
                               "0 answers `total` only.",
                "schema": {"type": "integer", "minimum": 0, "default": spec.default_count}})
    if spec.paging == "offset":
        out.append({"name": "_offset", "in": "query", "required": False, "description": "Rows to skip.",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}})
    out.append({"name": PAGE, "in": "query", "required": False,
                "description": "An opaque page token from a `next` link.",
                "schema": {"type": "string", "pattern": "^(p[A-Za-f][A-Za-z0-9_-]{10})?$"}})  # read_page_token
    if spec.sorts:
        keys = [k for s in spec.sorts for k in ((s, f"-{s}") if spec.descending else (s,))]
        out.append({"name": "_sort", "in": "query", "required": False,
                    "description": f"Sort keys, comma-separated: {', '.join(spec.sorts)}"
                                   + (" (prefix - for descending)." if spec.descending else " (ascending only)."),
                    "schema": {"type": "string", "enum": keys}})
    if spec.includes:
        spellings = [s for rule in spec.includes for s in rule.spellings()]
        for name in ("_include", "_include:iterate"):
            out.append({"name": name, "in": "query", "required": False, "style": "form", "explode": True,
                        "description": "Resources the matches point to, added with search.mode include.",
                        "schema": {"type": "array", "items": {"type": "string", "enum": spellings}}})
    out.append({"name": "_summary", "in": "query", "required": False,
                "description": "`count` answers `total` only.", "schema": {"type": "string", "enum": ["count"]}})
    out.append({"name": "Prefer", "in": "header", "required": False,
                "description": "`handling=strict` makes an unknown parameter a 400 instead of being ignored.",
                "schema": {"type": "string"}})
    return out

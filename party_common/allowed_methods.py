"""The `Allow` header of a 405: every method the party serves at the path, as its OpenAPI document
lists them.

Starlette answers a 405 with the methods of the first route whose path matched, so where two routes
share a path (the GP's GET and POST /{ods}/ServiceRequest) it leaves one out, and where a literal path
also matches a templated one (/faults/reset and /faults/{rule_id}) it may name the other route's. The
route a request is served by is the most literal template that matches its path, as here.
"""

from __future__ import annotations

import re
from functools import lru_cache

from fastapi import FastAPI

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@lru_cache(maxsize=1024)
def _pattern(template: str) -> re.Pattern:
    return re.compile("/".join("[^/]+" if s.startswith("{") else re.escape(s) for s in template.split("/")))


def allowed_methods(app: FastAPI, path: str) -> str | None:
    """The `Allow` value for `path` (HEAD with GET), or None when no documented route matches it."""
    paths = app.openapi().get("paths", {})
    matching = [t for t in paths if _pattern(t).fullmatch(path)]
    if not matching:
        return None
    literal = min(t.count("{") for t in matching)
    methods = {m.upper() for t in matching if t.count("{") == literal for m in paths[t]}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(m for m in _METHODS if m in methods)

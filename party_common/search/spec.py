"""What a party's search on one resource type honours, and a request's parameters read against it.

A `SearchSpec` is the single statement of a search: the route parses requests with it, the
CapabilityStatement declares its parameters and includes from it, and the OpenAPI document lists
them from it, so the three cannot disagree.

FHIR's rules, as applied here (http://hl7.org/fhir/R4/search.html):
- a parameter the server does not know is ignored and left out of the `self` link, unless the
  request says `Prefer: handling=strict`, when it is a 400;
- a known parameter with a modifier the server does not support is always a 400 (ignoring it would
  return the wrong resources);
- a parameter with no value is ignored; repeats are AND-ed, commas OR;
- `_count` above the server's maximum is served as the maximum; `_count=0` (or `_summary=count`)
  answers `total` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from starlette.requests import Request

from party_common.outcome import FhirError, Issue, invalid
from party_common.search.dates import TimeWindow, time_window
from party_common.search.paging import PAGE, page_token, read_page_token
from party_common.search.tokens import Token, reference_id, split_values

ParamType = Literal["token", "date", "reference", "string", "number", "uri"]
MAX_OFFSET = 2**63 - 1

# Result parameters every search reads itself (FHIR's "search result parameters").
_COUNT, _OFFSET, _SORT, _SUMMARY, _ID = "_count", "_offset", "_sort", "_summary", "_id"
_INCLUDE, _ITERATE = "_include", "_include:iterate"
# Known, and without effect on what a search returns here: accepted in strict mode too.
_HARMLESS = {"_format", "_pretty"}
_TOTAL = "_total"
_TOTAL_VALUES = ("none", "estimate", "accurate")


@dataclass(frozen=True)
class Param:
    name: str  # as the query carries it, modifier or chain included: "patient:identifier"
    type: ParamType
    doc: str
    target: str | None = None  # the type a reference parameter points to
    definition: str | None = None  # canonical SearchParameter, for the CapabilityStatement
    example: str | None = None
    codes: tuple[str, ...] = ()  # a token's whole value set, when the search knows no other codes


@dataclass(frozen=True)
class Include:
    """`_include=<source>:<param>[:<target>]`, following `source.<element>` references."""

    source: str
    param: str
    element: str
    targets: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.source}:{self.param}"

    def spellings(self) -> list[str]:
        return [self.key, *(f"{self.key}:{t}" for t in self.targets)]


@dataclass(frozen=True)
class SearchSpec:
    resource: str
    params: tuple[Param, ...] = ()
    sorts: tuple[str, ...] = ()
    descending: bool = True  # whether each sort key may be given as `-key`
    includes: tuple[Include, ...] = ()
    default_count: int = 50
    max_count: int = 100
    # "offset": the page position is a row offset and `_offset` is honoured too; "cursor": the party
    # gives the position itself (e.g. the last slot's ordinal) and `_offset` is not a parameter.
    paging: Literal["offset", "cursor"] = "offset"
    ids: bool = True  # `_id` searches

    def param(self, name: str) -> Param | None:
        if name == _ID and self.ids:
            return _ID_PARAM
        return next((p for p in self.params if p.name == name), None)

    def parse(self, request: Request) -> SearchQuery:
        return _Parser(self, request).parse()

    # A FastAPI dependency: `Annotated[SearchQuery, Depends(SPEC.dependency)]`. Async, so FastAPI calls
    # it on the event loop: a plain function would be sent to a worker thread and back, which cost a
    # trust's Slot search about a third of its time.
    async def dependency(self, request: Request) -> SearchQuery:
        return self.parse(request)

    def declared(self) -> list[Param]:
        return ([_ID_PARAM] if self.ids else []) + list(self.params)


_ID_PARAM = Param(_ID, "token", "The resource's logical id; comma-separated ids match any of them.",
                  definition="http://hl7.org/fhir/SearchParameter/Resource-id")


@dataclass
class SearchQuery:
    spec: SearchSpec
    applied: list[tuple[str, str]] = field(default_factory=list)  # (name, value) as honoured, in order
    count: int = 0
    offset: int = 0  # offset paging: rows to skip
    cursor: int | None = None  # cursor paging: where the page starts (None: the beginning)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    includes: list[Include] = field(default_factory=list)
    include_params: list[tuple[str, str]] = field(default_factory=list)
    strict: bool = False
    ignored: list[str] = field(default_factory=list)
    paged_by: str | None = None  # "_offset" or "_page", as the request gave its position
    # `_total=none`: the client does not want Bundle.total, so a search whose total costs a count of
    # its own (the trust PAS's slot claims) need not make it.
    total_wanted: bool = True

    @property
    def total_only(self) -> bool:
        return self.count == 0

    def values(self, name: str) -> list[str]:
        """Every value given for `name` (each a comma-separated list), in order."""
        return [v for n, v in self.applied if n == name]

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.applied)

    def tokens(self, name: str) -> list[list[Token]]:
        """AND of ORs: one list of tokens per occurrence of the parameter."""
        return [[Token.parse(v, name) for v in split_values(raw)] for raw in self.values(name)]

    def token_match(self, name: str, test) -> bool:
        """True when every occurrence of `name` has a token for which `test(token)` holds."""
        return all(any(test(t) for t in alternatives) for alternatives in self.tokens(name))

    def codes(self, name: str) -> set[str] | None:
        """The codes a token parameter allows (intersection over occurrences), systems ignored;
        None when the parameter is not given."""
        allowed: set[str] | None = None
        for alternatives in self.tokens(name):
            codes = {t.code for t in alternatives if t.code}
            allowed = codes if allowed is None else allowed & codes
        return allowed

    def window(self, name: str) -> TimeWindow:
        return time_window(self.values(name), name)

    def references(self, name: str) -> list[set[str]]:
        p = self.spec.param(name)
        target = p.target if p else None
        return [{reference_id(v, target) for v in split_values(raw)} for raw in self.values(name)]

    def ids(self) -> set[str] | None:
        """The ids `_id` allows (intersection over occurrences); None when not given."""
        allowed: set[str] | None = None
        for raw in self.values(_ID):
            ids = set(split_values(raw))
            allowed = ids if allowed is None else allowed & ids
        return allowed

    def sort_key_names(self) -> list[str]:
        return [("-" if desc else "") + name for name, desc in self.sort]

    def link_params(self, position: int | None, *, by: str | None = None) -> list[tuple[str, str]]:
        """The query of a link to this search at `position` (None: its first page)."""
        q = list(self.applied)
        if self.sort:
            q.append((_SORT, ",".join(self.sort_key_names())))
        q.extend(self.include_params)
        q.append((_COUNT, str(self.count)))
        if not self.total_wanted:
            q.append((_TOTAL, "none"))
        if position:
            q.append((_OFFSET, str(position)) if by == _OFFSET else (PAGE, page_token(position)))
        return q


class _Parser:
    def __init__(self, spec: SearchSpec, request: Request) -> None:
        self.spec = spec
        self.request = request
        prefer = request.headers.get("prefer", "")
        self.q = SearchQuery(spec, strict="handling=strict" in prefer.replace(" ", "").lower(),
                             count=spec.default_count)
        self.issues: list[Issue] = []

    def parse(self) -> SearchQuery:
        for name, value in self.request.query_params.multi_items():
            if value == "":
                continue  # FHIR: a parameter without a value is ignored.
            self._read(name, value)
        if self.issues:
            raise _bad(self.issues)
        return self.q

    def _unknown(self, name: str, why: str) -> None:
        if self.q.strict:
            self.issues.append(Issue("not-supported", f"{why} (Prefer: handling=strict)", [name]))
        else:
            self.q.ignored.append(name)

    def _read(self, name: str, value: str) -> None:
        spec, q = self.spec, self.q
        try:
            if name == _COUNT:
                q.count = min(_whole(name, value, MAX_OFFSET), spec.max_count)
            elif name == _SUMMARY:
                if value == "count":
                    q.count = 0
                else:
                    self._unknown(name, f"_summary={value} is not supported here (only _summary=count)")
            elif name == _OFFSET:
                if spec.paging != "offset":
                    self._unknown(name, f"{spec.resource} searches page by `next` links; _offset is not supported")
                elif q.paged_by != PAGE:
                    q.offset, q.paged_by = _whole(name, value, MAX_OFFSET), _OFFSET
            elif name == PAGE:
                position = read_page_token(value)
                if spec.paging == "offset":
                    q.offset = position
                else:
                    q.cursor = position
                q.paged_by = PAGE
            elif name == _SORT:
                self._sort(value)
            elif name in (_INCLUDE, _ITERATE):
                self._include(name, value)
            elif name in _HARMLESS:
                pass
            elif name == _TOTAL:
                if value not in _TOTAL_VALUES:
                    raise FhirError(400, "invalid", f"_total must be one of {', '.join(_TOTAL_VALUES)}; got "
                                    f"{value[:20]!r}", [name])
                q.total_wanted = value != "none"
            elif (param := spec.param(name)) is not None:
                _check(param, value)
                q.applied.append((name, value))
            elif spec.param(name.split(":", 1)[0]) is not None or (
                    "." in name and spec.param(name.rsplit(":", 1)[0]) is not None):
                self.issues.append(Issue("not-supported", f"{name}: this modifier is not supported on "
                                         f"{spec.resource} searches", [name]))
            elif name.startswith("_"):
                self._unknown(name, f"{name} is not supported on {spec.resource} searches")
            else:
                self._unknown(name, f"{name} is not a {spec.resource} search parameter here")
        except FhirError as err:
            self.issues.extend(err.issues)

    def _sort(self, value: str) -> None:
        for key in split_values(value):
            desc = key.startswith("-")
            name = key[1:] if desc else key
            if name in self.spec.sorts and desc and not self.spec.descending:
                self._unknown(_SORT, f"_sort: {self.spec.resource} searches are served in ascending order only; "
                              f"-{name} is not supported")
            elif name in self.spec.sorts:
                self.q.sort.append((name, desc))
            else:
                self._unknown(_SORT, f"_sort: {name!r} is not a sort key of {self.spec.resource} searches"
                              f" ({', '.join(self.spec.sorts) or 'none'})")

    def _include(self, name: str, value: str) -> None:
        parts = value.split(":")
        rule = next((r for r in self.spec.includes if r.key == ":".join(parts[:2])), None)
        if rule is None or len(parts) > 3 or (len(parts) == 3 and parts[2] not in rule.targets):
            self._unknown(name, f"{name}={value} is not supported on {self.spec.resource} searches"
                          f" (supported: {', '.join(s for r in self.spec.includes for s in r.spellings()) or 'none'})")
            return
        if len(parts) == 3:
            rule = Include(rule.source, rule.param, rule.element, (parts[2],))
        self.q.includes.append(rule)
        self.q.include_params.append((name, value))


def _whole(name: str, value: str, maximum: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise invalid(f"{name} must be a whole number, got {value!r}", name) from None
    if n < 0:
        raise invalid(f"{name} must not be negative", name)
    if n > maximum:
        raise invalid(f"{name} must be at most {maximum}", name)
    return n


def _check(param: Param, value: str) -> None:
    """Reads a value now, so a malformed one is a 400 before the party runs the search."""
    if param.type == "token":
        for v in split_values(value):
            Token.parse(v, param.name)
    elif param.type == "date":
        time_window([value], param.name)
    elif param.type == "number":
        for v in split_values(value):
            try:
                float(v[2:] if v[:2].isalpha() else v)
            except ValueError:
                raise invalid(f"{param.name}: {v!r} is not a number", param.name) from None


def _bad(issues: list[Issue]) -> FhirError:
    # Every problem at once, not just the first, so a client fixes its query in one go.
    return FhirError(400, issues[0].code, issues[0].diagnostics, issues=issues)

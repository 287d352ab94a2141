"""FHIR search, one layer for every party: parameters read against a declared `SearchSpec`,
searchset Bundles with `total` and constant-size `next` links, `_include`, and the declarations
the CapabilityStatement and OpenAPI document take from the same spec."""

from .bundle import offset_next, search_bundle
from .dates import TimeWindow, parse_instant
from .declare import capability_resource, openapi_parameters
from .includes import gather
from .spec import Include, Param, SearchQuery, SearchSpec
from .tokens import Token

__all__ = ["Include", "Param", "SearchQuery", "SearchSpec", "TimeWindow", "Token", "capability_resource", "gather",
           "offset_next", "openapi_parameters", "parse_instant", "search_bundle"]

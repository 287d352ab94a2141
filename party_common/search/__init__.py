"""FHIR search, one layer for every party: parameters read against a declared `SearchSpec`,
searchset Bundles with `total` and constant-size `next` links, `_include`, and the declarations
the CapabilityStatement and OpenAPI document take from the same spec."""

from party_common.search.bundle import offset_next, search_bundle
from party_common.search.dates import TimeWindow, parse_instant
from party_common.search.declare import capability_resource, openapi_parameters
from party_common.search.includes import gather
from party_common.search.spec import Include, Param, SearchQuery, SearchSpec
from party_common.search.tokens import Token

__all__ = ["Include", "Param", "SearchQuery", "SearchSpec", "TimeWindow", "Token", "capability_resource", "gather",
           "offset_next", "openapi_parameters", "parse_instant", "search_bundle"]

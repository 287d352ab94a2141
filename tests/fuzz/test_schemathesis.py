"""Schemathesis against every party, over sockets (tests/fuzz/conftest.py):

- its own OpenAPI document (the interface snapshot, which tests/contracts holds equal to what the party
  serves at /openapi.json), every operation, every check schemathesis has on by default; the control
  routes that change what the stack does (fault plan, delivery mode, clock) are fuzzed last, each
  followed by a reset;
- the BaRS spec itself, on each operation the party's CapabilityStatement declares at its FHIR base,
  with the checks that mean something against a document we did not write.

One pytest item per operation. Schemathesis's examples, coverage and fuzzing phases all run;
FUZZ_EXAMPLES sets the fuzzing phase's examples per operation (the other two are fixed by the
documents) and FUZZ_SEED the seed. A failure shows schemathesis's report with a curl command that
reproduces it, and the end of the party's log (where a 500's traceback is).
"""

from __future__ import annotations

import copy
import json
import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.openapi.checks import JsonSchemaError
from schemathesis.specs.openapi.checks import response_schema_conformance

from contracts.snapshots import snapshot_path
from tests.conftest import REFERENCE, reference_missing

from .bars_spec import bars_spec, declared_operations, json_only
from .conftest import EXAMPLES, PARTIES, PRACTICE, SEED, TRUST
from .lazy_operations import operation_test
from .refusals import (ACCEPTED, BODY_REFUSALS, KNOWN_GAPS, REPEATED, explained, judge_by_what_was_read,
                       read_query_problems)

pytestmark = [pytest.mark.sockets, pytest.mark.timeout(120)]

OWN_EXAMPLES = EXAMPLES or 8
SPEC_EXAMPLES = EXAMPLES or 10

# Path values each party holds, drawn beside generated ones, so fuzzing also gets past the 404.
KNOWN_PATH_VALUES = {"ods": [TRUST, PRACTICE], "nhs_number": ["9990000018"]}


def _settings(examples: int) -> settings:
    # No deadline: a loaded 2-core machine is slow, not wrong. No example database: runs stay seeded.
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _config(**extra) -> schemathesis.Config:
    return schemathesis.Config.from_dict({"seed": SEED, **extra})


def with_known_path_values(schema, values: dict[str, list[str]] = KNOWN_PATH_VALUES):
    """Path parameters drawn from `values` some of the time, so operations reach real resources too."""
    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        known = {name: v for name, v in values.items() if name in (path_parameters or {})}
        if not known:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters),
                         st.fixed_dictionaries({name: st.sampled_from(v) for name, v in known.items()})
                         .map(lambda chosen: {**path_parameters, **chosen}))
    return schema


def trace_headers() -> dict[str, str]:
    """Fresh ids for every request: the broker requires them, and an id reused for other content is a 409."""
    return {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}


def _call(case, fuzz_stack, party: str, base_url: str, **kwargs) -> None:
    try:
        case.call_and_validate(base_url=base_url, **kwargs)
    except Exception as exc:
        exc.add_note(f"(FUZZ_SEED={SEED}, FUZZ_EXAMPLES={EXAMPLES or 'unset'})\n"
                     f"--- the end of the {party}'s log ---\n{fuzz_stack.log_tail(party)}")
        raise


# --- each party's own document ---

# Control routes that change how the stack behaves; fuzzed apart, last, each followed by a reset.
CONTROL = ("/faults", "/faults/{rule_id}", "/faults/replay", "/faults/reset", "/delivery", "/clock/advance")


def own_document(party: str) -> dict:
    return json.loads(snapshot_path(party, "openapi").read_text())


# Known failures of the broker's own document: each runs and is reported as xfail (XPASS once it
# passes) until its fix lands; then it comes off this list.
BROKER_KNOWN = {
    ("POST", "/faults/reset"): "the document lets the body be left out, but a control route needs "
                               "Content-Type: application/json (415 otherwise, so no cross-site simple "
                               "request can reach it): the document should say the body is required",
}


def _operations(party: str, control: bool) -> list:
    out = []
    for path, item in own_document(party)["paths"].items():
        for method in item:
            if (path in CONTROL and method != "get") != control:
                continue
            known = BROKER_KNOWN.get((method.upper(), path)) if party == "broker" else None
            marks = [pytest.mark.xfail(reason=known, strict=False)] if known else []
            out.append(pytest.param((party, method.upper(), path), marks=marks))
    return out


def _label(operation) -> str:
    return f"{operation[0]}:{operation[1]} {operation[2]}"


# FHIR searches are lenient unless asked otherwise: a parameter or value not understood is ignored.
# Strict handling makes them refuse it (400), which is what negative_data_rejection looks for.
STRICT = {"Prefer": "handling=strict"}


def _run_own(fuzz_stack, party: str, method: str, path: str) -> None:
    operation = own_document(party)["paths"][path][method.lower()]
    config = _config(checks={"positive_data_acceptance": {
        "expected-statuses": [*ACCEPTED, *(BODY_REFUSALS if "requestBody" in operation else [])]}})
    schema = schemathesis.openapi.from_dict(own_document(party), config=config)
    schema = judge_by_what_was_read(with_known_path_values(schema), operation.get("parameters", []))

    def check(case):
        _call(case, fuzz_stack, party, fuzz_stack.url(party), headers={**trace_headers(), **STRICT})

    operation_test(schema, method, path, check, _settings(OWN_EXAMPLES))()


@pytest.mark.parametrize("operation", [o for p in PARTIES for o in _operations(p, control=False)], ids=_label)
def test_own_document(fuzz_stack, operation):
    _run_own(fuzz_stack, *operation)


@pytest.fixture
def restored_control(fuzz_stack):
    """Whatever a fuzzed control request changed is undone: no fault rules, the broker's delivery mode
    as it was. (A clock on system time cannot be moved, so /clock/advance changes nothing.)"""
    broker = fuzz_stack.url("broker")
    delivery = httpx.get(f"{broker}/delivery", timeout=30).json()
    yield
    json_headers = {"Content-Type": "application/json", **trace_headers()}
    httpx.post(f"{broker}/faults/reset", json={}, headers=json_headers, timeout=30).raise_for_status()
    httpx.put(f"{broker}/delivery", json=delivery, headers=json_headers, timeout=30).raise_for_status()


@pytest.mark.parametrize("operation", [o for p in PARTIES for o in _operations(p, control=True)], ids=_label)
def test_own_document_control_route(fuzz_stack, restored_control, operation):
    _run_own(fuzz_stack, *operation)


# --- the BaRS spec ---

SPEC = bars_spec(REFERENCE)
SPEC_OPERATIONS = [(method.upper(), path) for path, item in (SPEC or {"paths": {}})["paths"].items()
                   for method in item if method in ("get", "post", "put", "patch", "delete")]

# The checks that mean something against a spec we did not write. Off, and why:
# - positive_data_acceptance: the spec's values (its example patient, service, slot) are not ones our
#   stack holds, so a well-formed message is rightly refused as a business rule (422);
# - negative_data_rejection, missing_required_header: the spec says what a client must send; our
#   parties take more than that (a search without `patient:identifier`, no NHSD-* headers, which the
#   national proxy, not the receiver, checks), which a server may;
# - unsupported_method, allow_header_conformance: our parties serve interactions the spec leaves out
#   (the GP's ServiceRequest create), so a method the spec does not list is not one they must refuse;
# - ignored_auth: the spec's OAuth bearer is the national gateway's; the testbed has none to ignore.
# Each party's own document is held to all of these. response_schema_conformance is off for /metadata
# only: the spec's Capability schema closes the object to its own example's elements (refusing R4's
# `title` and narrative `text`, which the R4 invariants ask for) and types `date` as a date-time where
# R4 allows a date.
SPEC_CHECKS = {"checks": {name: {"enabled": False} for name in (
    "positive_data_acceptance", "negative_data_rejection", "missing_required_header", "unsupported_method",
    "allow_header_conformance", "ignored_auth")}}
# The coverage phase makes some 1,000 variants of the spec's MessageBundle, 15 to 25 s a party; it runs
# when FUZZ_EXAMPLES asks for a longer run. The message's examples and fuzzing phases always run, and
# test_body_mutation.py mutates real messages at every party.
SPEC_MESSAGE_PHASES = {"phases": {"coverage": {"enabled": False}}}
_DECLARED: dict[str, set[tuple[str, str]]] = {}


def _allow_ubrn_ids(schema):
    """Where our parties knowingly differ from the spec (reported, a design decision): the broker's
    ledger and the spine's booking index give an Appointment its UBRN as its id (`/Appointment/{ubrn}`
    reads it back), where the spec's SearchBundleAppt schema has a UUID. Only that is let through;
    any other way an answer breaks the spec's schemas still fails."""
    @schema.hook
    def filter_failure(context, failure, case, response):
        path = list(getattr(failure, "instance_path", []))
        value = getattr(failure, "instance", None)
        return not (isinstance(failure, JsonSchemaError) and path[-2:] == ["resource", "id"]
                    and isinstance(value, str) and value.isdigit() and len(value) == 12)
    return schema


def declared(fuzz_stack, party: str) -> set[tuple[str, str]]:
    """The spec operations the party's CapabilityStatement (at its FHIR base) declares."""
    if party not in _DECLARED:
        statement = httpx.get(f"{fuzz_stack.base(party)}/metadata", headers={"Accept": "application/fhir+json"},
                              timeout=30).json()
        _DECLARED[party] = declared_operations(statement)
    return _DECLARED[party]


def test_the_bars_spec_is_at_hand():
    """Without the spec the next test has no operations at all: this one says so (and fails under
    TESTBED_REQUIRE_REFERENCE=1)."""
    if SPEC is None:
        reference_missing("BaRS OpenAPI spec", REFERENCE)


@pytest.mark.skipif(SPEC is None, reason=f"BaRS reference files not found at {REFERENCE}")
@pytest.mark.parametrize("operation", [(p, *o) for p in PARTIES for o in SPEC_OPERATIONS], ids=_label)
def test_bars_spec(fuzz_stack, operation):
    party, method, path = operation
    if (method, path) not in declared(fuzz_stack, party):
        pytest.skip(f"the {party}'s CapabilityStatement does not declare {method} {path}")
    config = _config(**SPEC_CHECKS, **({} if EXAMPLES or method != "POST" else SPEC_MESSAGE_PHASES))
    schema = _allow_ubrn_ids(schemathesis.openapi.from_dict(json_only(copy.deepcopy(SPEC)), config=config))

    def check(case):
        _call(case, fuzz_stack, party, fuzz_stack.base(party),
              excluded_checks=[response_schema_conformance] if path == "/metadata" else None)

    operation_test(schema, method, path, check, _settings(SPEC_EXAMPLES))()


@pytest.mark.parametrize("name,value,phrase", [("identifier", "a,,b", "an empty value matches nothing"),
                                               ("identifier", "|", "names neither a system nor a value"),
                                               ("_count", str(2**70), "_count must be at most")])
def test_known_gaps_are_still_there(fuzz_stack, name, value, phrase):
    """Each KNOWN_GAPS refusal still meets a request its document admits. Once the document refuses the
    request, or the party takes it, this fails: take the gap out of KNOWN_GAPS."""
    assert phrase in KNOWN_GAPS
    parameters = own_document("spine")["paths"]["/Appointment"]["get"]["parameters"]
    url = str(httpx.URL(f"{fuzz_stack.url('spine')}/Appointment", params={name: value}))
    assert read_query_problems(url, parameters) == [], "the document now refuses it: take it out of KNOWN_GAPS"
    r = httpx.get(url, headers=STRICT, timeout=30)
    assert r.status_code == 400 and explained(r) == KNOWN_GAPS[phrase], r.text


def test_a_repeated_single_valued_parameter_is_still_taken(fuzz_stack):
    """The REPEATED gap (refusals.py): `_count` given twice is read, not refused, under strict handling.
    Once it is refused, this fails: stop letting it through in judge_by_what_was_read."""
    parameters = own_document("spine")["paths"]["/Appointment"]["get"]["parameters"]
    url = f"{fuzz_stack.url('spine')}/Appointment?_count=1&_count=2"
    assert read_query_problems(url, parameters) == [REPEATED]
    r = httpx.get(url, headers=STRICT, timeout=30)
    assert r.status_code == 200, r.text

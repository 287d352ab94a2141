"""Schemathesis against the middleware, over sockets, with the real legacy PAS behind it (both as
uvicorn processes, tests/middleware/processes.py; the spine look-up off, so what a fuzzed message
books goes on to the PAS over MLLP):

- its own OpenAPI document, every operation, every check schemathesis has on by default (no 5xx
  among them), judged as the other parties' are (refusals.py); the control routes that change what
  it does (fault plan, clock) last, each followed by a reset. The document is the app's own, built at
  collection (the middleware has no interface snapshot), and held equal to what it serves;
- the BaRS spec, on each operation the trust's CapabilityStatement declares at its FHIR base, with
  the same checks as test_schemathesis.py uses against the spec for every other party.

FUZZ_EXAMPLES and FUZZ_SEED as in test_schemathesis.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import response_schema_conformance

from harness.stack.embedded import trusts_json
from tests.conftest import REFERENCE
from tests.middleware.processes import legacy_processes

from middleware.app import create_app
from middleware.settings import Settings

from .bars_spec import declared_operations, json_only
from .conftest import SEED
from .lazy_operations import operation_test
from .refusals import ACCEPTED, BODY_REFUSALS, judge_by_what_was_read
from .test_schemathesis import (BROKER_KNOWN, CONTROL, OWN_EXAMPLES, SPEC, SPEC_CHECKS, SPEC_EXAMPLES, SPEC_MESSAGE_PHASES,
                                SPEC_OPERATIONS, STRICT, EXAMPLES, _allow_ubrn_ids, _config, _settings, trace_headers,
                                with_known_path_values)

pytestmark = [pytest.mark.sockets, pytest.mark.timeout(180)]

TRUST = "RT4"
CATALOGUE = json.loads(trusts_json([TRUST]))


def _document() -> dict:
    """The middleware's OpenAPI document for the trust, as its app builds it (nothing started)."""
    return create_app(Settings(trusts=CATALOGUE, database_url="sqlite+aiosqlite:///:memory:",
                               log_level="WARNING")).openapi()


DOCUMENT = _document()
# Path values the trust holds, drawn beside generated ones so fuzzing also gets past the 404.
_SERVICE = "rt4-rt401-dermatology"
KNOWN_PATH_VALUES = {"ods": [TRUST], "rid": [_SERVICE, TRUST], "slot_id": [f"{_SERVICE}-202701040900"]}


class Middleware:
    def __init__(self, url: str, log_dir: Path):
        self.url, self.log_dir = url, log_dir

    @property
    def base(self) -> str:
        return f"{self.url}/{TRUST}"

    def log_tail(self, chars: int = 6000) -> str:
        """The middleware's and the PAS's last logged error (a 500's traceback), else their logs' ends."""
        out = []
        for name in ("middleware", "legacy_pas"):
            path = self.log_dir / f"{name}.log"
            lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
            errors = [line for line in lines if '"level":"error"' in line or "Traceback" in line]
            out.append(f"--- {name} ---\n" + (errors[-1] if errors else "\n".join(lines[-20:]))[-chars:])
        return "\n".join(out)


@pytest.fixture(scope="module")
def middleware(tmp_path_factory) -> Iterator[Middleware]:
    tmp = tmp_path_factory.mktemp("fuzz-middleware")
    with legacy_processes(tmp, [TRUST], extra_env={"MIDDLEWARE_SPINE_LOOKUP": "false"}) as urls:
        yield Middleware(urls.middleware or "", tmp / "logs")


def _call(case, middleware: Middleware, base_url: str, **kwargs) -> None:
    try:
        case.call_and_validate(base_url=base_url, **kwargs)
    except Exception as exc:
        exc.add_note(f"(FUZZ_SEED={SEED}, FUZZ_EXAMPLES={EXAMPLES or 'unset'})\n{middleware.log_tail()}")
        raise


# The fault routes are the broker's (party_common/links/fault_routes.py), with its known failure: run,
# and reported as xfail (XPASS once fixed) as the broker's is.
KNOWN = {operation: reason for operation, reason in BROKER_KNOWN.items() if operation[1].startswith("/faults")}


def _operations(control: bool) -> list:
    out = []
    for path, item in DOCUMENT["paths"].items():
        for method in item:
            if (path in CONTROL and method != "get") != control:
                continue
            known = KNOWN.get((method.upper(), path))
            marks = [pytest.mark.xfail(reason=known, strict=False)] if known else []
            out.append(pytest.param((method.upper(), path), marks=marks, id=f"{method.upper()} {path}"))
    return out


def _run_own(middleware: Middleware, method: str, path: str) -> None:
    operation = DOCUMENT["paths"][path][method.lower()]
    config = _config(checks={"positive_data_acceptance": {
        "expected-statuses": [*ACCEPTED, *(BODY_REFUSALS if "requestBody" in operation else [])]}})
    schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=config)
    schema = judge_by_what_was_read(with_known_path_values(schema, KNOWN_PATH_VALUES), operation.get("parameters", []))

    def check(case):
        _call(case, middleware, middleware.url, headers={**trace_headers(), **STRICT})

    operation_test(schema, method, path, check, _settings(OWN_EXAMPLES))()


def test_the_document_fuzzed_is_the_one_served(middleware):
    served = httpx.get(f"{middleware.url}/openapi.json", timeout=30).json()
    served.get("info", {}).pop("version", None)
    built = copy.deepcopy(DOCUMENT)
    built.get("info", {}).pop("version", None)
    assert served == built


@pytest.mark.parametrize("operation", _operations(control=False))
def test_own_document(middleware, operation):
    _run_own(middleware, *operation)


@pytest.fixture
def restored_control(middleware):
    """Whatever a fuzzed control request changed is undone: no fault rules. (A clock on system time
    cannot be moved, so /clock/advance changes nothing.)"""
    yield
    httpx.post(f"{middleware.url}/faults/reset", json={}, headers={"Content-Type": "application/json",
                                                                   **trace_headers()}, timeout=30).raise_for_status()


@pytest.mark.parametrize("operation", _operations(control=True))
def test_own_document_control_route(middleware, restored_control, operation):
    _run_own(middleware, *operation)


_DECLARED: set[tuple[str, str]] = set()


@pytest.mark.skipif(SPEC is None, reason=f"BaRS reference files not found at {REFERENCE}")
@pytest.mark.parametrize("operation", SPEC_OPERATIONS, ids=" ".join)
def test_bars_spec(middleware, operation):
    method, path = operation
    if not _DECLARED:
        statement = httpx.get(f"{middleware.base}/metadata", headers={"Accept": "application/fhir+json"},
                              timeout=30).json()
        _DECLARED.update(declared_operations(statement))
    if (method, path) not in _DECLARED:
        pytest.skip(f"the middleware's CapabilityStatement does not declare {method} {path}")
    config = _config(**SPEC_CHECKS, **({} if EXAMPLES or method != "POST" else SPEC_MESSAGE_PHASES))
    schema = _allow_ubrn_ids(schemathesis.openapi.from_dict(json_only(copy.deepcopy(SPEC)), config=config))

    def check(case):
        _call(case, middleware, middleware.base,
              excluded_checks=[response_schema_conformance] if path == "/metadata" else None)

    operation_test(schema, method, path, check, _settings(SPEC_EXAMPLES))()

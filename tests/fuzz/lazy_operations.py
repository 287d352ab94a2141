"""One API operation's schemathesis test, built when it runs rather than when pytest collects.

`schema.parametrize()` builds every operation's test at collection, coverage cases included: for the
documents here that is some 20 s of every collection of the suite, whichever tests are then run.
`schemathesis.pytest.from_fixture`, its lazy form, builds them at run time but does not run on
pytest 9.2 (it sets `Function._nodeid`, which 9.2 no longer has). So this builds the one operation a
pytest item names with what that lazy form itself calls (`schemathesis.pytest.lazy.get_all_tests`): the
same hypothesis test, examples, coverage and fuzzing phases, as `parametrize` would have made.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings as Settings
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.pytest.lazy import get_all_tests


def operation_test(schema, method: str, path: str, check: Callable, settings: Settings) -> Callable[[], None]:
    """A callable that runs `check(case)` on every case schemathesis makes for `method path` of `schema`."""
    only = schema.include(method=method, path=path)
    tests = [result.ok() for result in get_all_tests(schema=only, test_func=check, settings=settings,
                                                      given_kwargs=None)]
    assert len(tests) == 1, f"{method} {path}: {len(tests)} operations in the document"
    (_operation, test), = tests

    def run() -> None:
        __tracebackhide__ = True
        try:
            test()
        except FailureGroup as exc:
            # Shown as schemathesis shows it under pytest: each failure with its curl command.
            raise as_reported_failure(exc) from None

    return run

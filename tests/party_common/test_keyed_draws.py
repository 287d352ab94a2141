"""Keyed draws: a number per key, the same in every process; occurrence counts in bounded memory."""

from __future__ import annotations

import subprocess
import sys

from party_common.keyed_draws import Occurrences, keyed_unit


def test_a_keyed_draw_depends_on_the_key_only_and_is_the_same_in_another_process():
    key = (7, "r1", ("broker->pas:RT1", "booking-request", "m1", "", 1, "delivery"), 1)
    here = keyed_unit(*key)
    assert 0 <= here < 1 and here == keyed_unit(*key)
    # hash() of a string is salted per process; a run replayed tomorrow must draw the same numbers.
    there = subprocess.run([sys.executable, "-c", f"from party_common.keyed_draws import keyed_unit; "
                            f"print(repr(keyed_unit(*{key!r})))"], capture_output=True, text=True, check=True)
    assert float(there.stdout) == here
    assert keyed_unit(7, "r1", "a", "b") != keyed_unit(7, "r1", "a, b")
    assert keyed_unit(2**80, "huge seeds are fine") != keyed_unit(2**80 + 1, "huge seeds are fine")


def test_occurrences_count_each_key_and_forget_the_least_recent_beyond_capacity():
    seen = Occurrences(capacity=3)
    assert [seen.next("a"), seen.next("a"), seen.next("b"), seen.next("c")] == [1, 2, 1, 1]
    seen.next("a")  # a is the most recent again; b is now the oldest
    seen.next("d")
    assert len(seen) == 3
    assert seen.next("b") == 1 and seen.next("a") == 4

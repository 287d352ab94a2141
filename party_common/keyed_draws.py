"""Random draws keyed by what is being decided, not by when it is decided.

A seeded stream gives its n-th number to whichever message asks n-th, so under concurrency the same
seed hands the same numbers to different messages. A keyed draw is a hash of the seed and the
message's identity mapped to [0, 1): each message gets its own number whatever order messages come in.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable

_SCALE = 2.0 ** -64


def keyed_unit(*parts: object) -> float:
    """A uniform number in [0, 1) that depends only on `parts` (strings, integers, None, tuples of them)."""
    # repr quotes each string, so no message id can run into the next part, and unlike hash() it is
    # the same in every process (hash() of a string is salted per process).
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") * _SCALE


class Occurrences:
    """How many times each key has been seen: the n in "the n-th time this same message came".

    Only the most recently seen `capacity` keys are remembered, so memory stays bounded however
    long a run: a key forgotten and seen again counts from 1. Repeats of one message (a resend, a
    message with nothing to tell it apart) come close together, long before their key is forgotten.
    """

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._seen: OrderedDict[Hashable, int] = OrderedDict()

    def next(self, key: Hashable) -> int:
        n = self._seen.pop(key, 0) + 1
        self._seen[key] = n
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return n

    def __len__(self) -> int:
        return len(self._seen)

    def clear(self) -> None:
        self._seen.clear()

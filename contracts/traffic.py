"""How the contract suites mark the bookings they make, so that reconciling the same stack afterwards
can tell them from real traffic.

Every check that books does so under a fresh UBRN starting CONTRACT_UBRN_PREFIX, and cancels it again
through the party's own API before it ends (a booking-cancel for what it booked); the PAS suite's
bookings name CONTRACT_PRACTICE as the referring practice, which marks the one booking it makes with
no UBRN at all (a trust's PAS then keys it by its own Appointment id). The broker's ledger never holds
these bookings, so without the mark `testbed reconcile` would call each one `missing_at_broker`.

The testbed's spine hands out UBRNs all over the 12-digit space (about one in a hundred starts with
99), so the prefix alone does not prove a booking is the suites'. Reconciliation therefore sets aside
only a booking that carries the mark, that the broker's ledger does not hold, and that no party holds
live any more: suite traffic that was cleaned up. One left live (a check cut short) is still reported.
"""

from __future__ import annotations

from collections.abc import Iterable

CONTRACT_UBRN_PREFIX = "99"
CONTRACT_PRACTICE = "Y99999"


def is_contract_booking(key: str, practices: Iterable[str | None] = ()) -> bool:
    """Whether a booking (its UBRN, or `pas:<ODS>/Appointment/<id>` for one made without a UBRN, with
    the referring practice of each record of it) carries the contract suites' mark."""
    if len(key) == 12 and key.isdigit():
        return key.startswith(CONTRACT_UBRN_PREFIX)
    named = list(practices)
    return key.startswith("pas:") and bool(named) and all(p == CONTRACT_PRACTICE for p in named)

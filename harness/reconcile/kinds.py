"""The names of what can go wrong with a booking or referral between the parties, and who each one concerns."""

from __future__ import annotations

PARTIES = ("broker", "pas", "spine", "gp")

MISSING_AT_PAS = "missing_at_pas"
MISSING_AT_BROKER = "missing_at_broker"
STATUS_MISMATCH = "status_mismatch"
SLOT_MISMATCH = "slot_mismatch"
DUPLICATE_AT_PAS = "duplicate_at_pas"
MISSING_AT_SPINE = "missing_at_spine"
MISSING_AT_GP = "missing_at_gp"

# Referrals (servicerequest-request), keyed `referral:<id>`.
REFERRAL_MISSING_AT_PAS = "referral_missing_at_pas"
REFERRAL_MISSING_AT_BROKER = "referral_missing_at_broker"
DUPLICATE_REFERRAL_AT_PAS = "duplicate_referral_at_pas"
REFERRAL_UNANSWERED_AT_GP = "referral_unanswered_at_gp"

KINDS = (MISSING_AT_PAS, MISSING_AT_BROKER, STATUS_MISMATCH, SLOT_MISMATCH, DUPLICATE_AT_PAS,
         MISSING_AT_SPINE, MISSING_AT_GP, REFERRAL_MISSING_AT_PAS, REFERRAL_MISSING_AT_BROKER,
         DUPLICATE_REFERRAL_AT_PAS, REFERRAL_UNANSWERED_AT_GP)

DESCRIPTIONS = {
    MISSING_AT_PAS: "booked at the broker, unknown to the trust",
    MISSING_AT_BROKER: "a party holds a booking the broker's ledger does not",
    STATUS_MISMATCH: "booked in one party, cancelled or refused in another",
    SLOT_MISMATCH: "a different slot or time for the same UBRN",
    DUPLICATE_AT_PAS: "the trust holds more than one booked appointment for one UBRN",
    MISSING_AT_SPINE: "booked at the broker, absent from the spine's booking index",
    MISSING_AT_GP: "the practice was never told the outcome",
    REFERRAL_MISSING_AT_PAS: "a referral the broker routed never reached the trust",
    REFERRAL_MISSING_AT_BROKER: "a trust holds a referral the broker never routed",
    DUPLICATE_REFERRAL_AT_PAS: "the trust holds one referral more than once",
    REFERRAL_UNANSWERED_AT_GP: "the trust has the referral, but the practice was never told",
}

# Appointment statuses, as the parties use them.
LIVE = frozenset({"booked", "arrived", "checked-in", "fulfilled"})     # a patient holds a slot
UNANSWERED = frozenset({"proposed", "pending", "waitlist"})            # asked, no answer yet (GP)
REFUSED = "entered-in-error"                                           # the ledger: the trust said no

"""Reconciliation: every party's bookings joined on UBRN, each disagreement named, repaired by resend."""

from .kinds import DESCRIPTIONS, KINDS
from .records import PartyRecords, Strings
from .report import Reconciliation, render, write_junit
from .rules import Discrepancy, classify, reconcile_records
from .score import score_reconciliation
from .service import ReconcileJob, reconcile_stack, run_job
from .sources import PartyUnreachable

__all__ = ["DESCRIPTIONS", "KINDS", "Discrepancy", "PartyRecords", "PartyUnreachable", "ReconcileJob",
           "Reconciliation", "Strings", "classify", "reconcile_records", "reconcile_stack", "render", "run_job",
           "score_reconciliation", "write_junit"]

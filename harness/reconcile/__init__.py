"""Reconciliation: every party's bookings joined on UBRN, each disagreement named, repaired by resend."""

from harness.reconcile.kinds import DESCRIPTIONS, KINDS
from harness.reconcile.records import PartyRecords, Strings
from harness.reconcile.report import Reconciliation, render, write_junit
from harness.reconcile.rules import Discrepancy, classify, reconcile_records
from harness.reconcile.score import score_reconciliation
from harness.reconcile.service import ReconcileJob, reconcile_stack, run_job
from harness.reconcile.sources import PartyUnreachable

__all__ = ["DESCRIPTIONS", "KINDS", "Discrepancy", "PartyRecords", "PartyUnreachable", "ReconcileJob",
           "Reconciliation", "Strings", "classify", "reconcile_records", "reconcile_stack", "render", "run_job",
           "score_reconciliation", "write_junit"]

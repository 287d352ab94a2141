"""Contracts between the parties: message rules, error taxonomy, provider suites, snapshots, pacts."""

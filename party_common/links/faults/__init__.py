"""Synchronisation failures on demand: rules, the action units they name, and the engine."""

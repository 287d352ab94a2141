"""Scenario files: their model and the library shipped under `scenarios/`."""

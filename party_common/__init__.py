"""What every party of the testbed needs: FHIR edges, errors, tracing, database, messaging."""

"""The trust's integration engine (2006): the trust's FHIR/BaRS endpoint towards the broker, HL7 v2.4
over MLLP towards its legacy PAS (docs/legacy-pas.md)."""

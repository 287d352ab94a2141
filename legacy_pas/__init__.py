"""The legacy PAS: a trust PAS of 2006 that speaks HL7 v2.4 over MLLP (docs/legacy-pas.md)."""

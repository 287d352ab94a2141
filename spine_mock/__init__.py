"""The national spine mock: demographics, UBRN allocation and the national booking index."""

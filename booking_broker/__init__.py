"""The Choose-and-Book style booking broker: directory, slot search, ledger, delivery to every party."""

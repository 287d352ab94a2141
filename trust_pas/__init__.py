"""Hospital Patient Administration Systems: one service hosting every trust, each at `/{ODS}`."""

"""GP practice systems: one service hosting every practice, each under its own `/{ODS}` base."""

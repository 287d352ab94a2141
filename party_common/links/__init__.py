"""What a party that carries messages over named links shares: the courier, the fault engine and its
actions, the journal, the outcomes and the log of carried bodies."""

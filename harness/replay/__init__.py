"""Record and replay of a run or of one booking: the plan, the replay, the comparison and the trace."""

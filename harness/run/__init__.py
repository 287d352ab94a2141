"""A `testbed run`: the workload, its pacing and arrivals, the virtual clock driver, the run folder and its summary."""

"""The harness: the `testbed` CLI, the embedded stack, workloads and run folders."""

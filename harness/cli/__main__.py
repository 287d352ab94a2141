"""`python -m harness.cli` runs the `testbed` command."""

from harness.cli.main import main

if __name__ == "__main__":
    main()

"""`python -m vaelab` runs the command-line interface (also what torchrun launches)."""

from vaelab.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())

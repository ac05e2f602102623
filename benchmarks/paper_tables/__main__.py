"""``python -m benchmarks.paper_tables``: runs :func:`benchmarks.paper_tables.main` on the command line."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())

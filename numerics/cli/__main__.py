"""``python -m numerics.cli``: the same as the ``memdyn`` command."""

import sys

from numerics.cli import main

if __name__ == "__main__":
    sys.exit(main())

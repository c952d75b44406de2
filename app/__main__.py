"""``python -m app``: the same entry point as the ``scrobbletray`` command."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m grokphase.cli``: the same as the ``grokphase`` command."""

import sys

from grokphase.cli import main

sys.exit(main())

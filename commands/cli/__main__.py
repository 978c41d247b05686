"""``python -m commands.cli``: the same as the ``serviceorder`` command."""

import sys

from commands.cli import main

sys.exit(main())

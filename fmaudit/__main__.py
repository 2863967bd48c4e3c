"""``python -m fmaudit`` is the same as the ``fmaudit`` command."""

import sys

from fmaudit.cli import main

sys.exit(main())

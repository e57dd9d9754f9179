"""``python -m amlocal.cli`` is the ``amlocal`` command."""
import sys

from . import main

sys.exit(main())

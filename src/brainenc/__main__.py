"""``python -m brainenc``: the ``brainenc`` console script without the script on PATH."""

import sys

from brainenc.cli import main

sys.exit(main())

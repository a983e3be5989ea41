"""``python -m ovserve.server`` runs the ``ovserve`` command."""

import sys

from .main import main

sys.exit(main())

"""``python -m leadmodel`` runs the ``leadmodel`` command."""

import sys

from leadmodel.cli import main

sys.exit(main())

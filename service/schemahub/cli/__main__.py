"""``python -m schemahub.cli``."""

import sys

from schemahub.cli import main

sys.exit(main())

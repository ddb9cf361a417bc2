"""Whether to load the optional C extensions (the frame decoder and the ISO timestamp parser).

``SCHEMAHUB_NATIVE=0`` runs without them, as an install without a C compiler would: the same
answers from the msgspec and Arrow paths, slower. CI runs the daemon's end-to-end tests once
more that way, so the fallback is proven on the real path, not only in unit tests.
"""

from __future__ import annotations

import os

NATIVE_ENV = "SCHEMAHUB_NATIVE"


def native_enabled() -> bool:
    """False when the environment switches the C extensions off (``SCHEMAHUB_NATIVE=0``)."""
    return os.environ.get(NATIVE_ENV, "1").strip().lower() not in ("0", "false", "off", "no")

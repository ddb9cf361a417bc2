"""Keeping secrets out of what we show: the password of a URI (``scheme://user:password@host``).

Used where text may hold a database or catalog URI: config reprs and errors, log lines, the
CLI's error line and ``/readyz``.
"""

from __future__ import annotations

import re

# scheme://user:PASSWORD@ -- the user part has no ':' '/' '@' or space; the password runs to the
# last '@' before the host (passwords may hold '@' when a driver accepts them unencoded).
_URI_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s/]*(?=@)")
MASK = "***"


def mask_uri_passwords(text: str) -> str:
    """``text`` with the password of every URI in it replaced by ``***``."""
    return _URI_PASSWORD.sub(lambda m: m.group("head") + MASK, text)

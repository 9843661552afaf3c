"""Identifiers: bigint in PostgreSQL, decimal strings in JSON (JavaScript cannot hold 64-bit integers).

Path parameters are bounded to 2^53 so no client and no database ever sees an overflow; the pattern allows 15
digits (below 2^53) so every id the spec describes is one the server accepts.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter

MAX_ID = 2**53 - 1

# A string on the wire like every id in a body (the mini program passes ids from answers as they are); the handler
# gets an int, and anything but digits answers 400 `validation_failed`, not 404.
ID_PATTERN = r"^[1-9][0-9]{0,14}$(?!\n)"
PathId = Annotated[
    int,
    PathParameter(
        ge=1,
        le=MAX_ID,
        description="Resource id (decimal string of an integer)",
        schema_extra={"type": "string", "pattern": ID_PATTERN},
    ),
]

"""Identifiers: bigint in PostgreSQL, decimal strings in JSON (JavaScript cannot hold 64-bit integers).

Path parameters are bounded to 2^53 so no client and no database ever sees an overflow.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter

MAX_ID = 2**53 - 1

PathId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="Resource id (decimal string of an integer)")]

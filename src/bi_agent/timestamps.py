"""How the replies built from domain records write a time: ISO-8601 as Python writes it
(`2026-12-03T14:05:00.123456+00:00`), the text those replies have always carried.

pydantic would write a UTC time with `Z`; the instant is the same, the text is not, and
clients comparing or parsing it keep meeting the form they always met.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

Timestamp = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

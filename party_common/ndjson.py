"""Bulk export in the spirit of FHIR Bulk Data: resources as NDJSON, one per line, streamed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import orjson
from fastapi.responses import StreamingResponse

NDJSON = "application/fhir+ndjson"

Row = TypeVar("Row")


def ndjson_response(rows: Iterable[Row], render: Callable[[Row], dict], chunk: int = 500) -> StreamingResponse:
    """Streams `render(row)` for each row; encodes in chunks so a large export is not one huge string."""

    def lines():
        batch: list[bytes] = []
        for row in rows:
            batch.append(orjson.dumps(render(row)))
            if len(batch) >= chunk:
                yield b"\n".join(batch) + b"\n"
                batch = []
        if batch:
            yield b"\n".join(batch) + b"\n"

    return StreamingResponse(lines(), media_type=NDJSON)

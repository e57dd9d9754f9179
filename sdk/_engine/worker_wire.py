"""The wire format between a pipeline web service's host front and its warm workers: one
secret header on every call, and tables as Arrow IPC streams. Both ends import it from here."""
from __future__ import annotations

import io

SECRET_HEADER = "X-Amlocal-Worker-Secret"
SECRET_ENV = "AMLOCAL_WORKER_SECRET"     # how a worker gets the service's worker secret


def frame_to_ipc(frame) -> bytes:
    import pyarrow as pa
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def ipc_to_frame(data: bytes):
    import pyarrow as pa
    return pa.ipc.open_stream(data).read_all().to_pandas()

"""Log archives: append lines from a running program, read them back, search them.

A log archive is an ordinary ``.ncz`` archive whose chunks are coded by the `logs` codec; each
flush appends one complete member, so ``ncz -d`` decodes it like any other archive. Appenders
serialise on the lock file ``<archive>.lock`` next to it. Archive a program's own logs::

    handler = nacrith.logs.LogArchiveHandler("app.log.ncz")
    logging.getLogger().addHandler(handler)

Read and search::

    with nacrith.logs.LogArchive("app.log.ncz", "r") as archive:
        for line in archive.search("Connection refused", since="2024-05-01 00:00:00"):
            print(line)

Modules: `archive` (`LogArchive`: writing, reading, locking), `search` (chunk skipping, time
windows, a line's time), `matcher` (the pattern test and what templates can hold it),
`literals` (the literals of a regex), `repair` (what opening for append accepts and cuts),
`handler` (`LogArchiveHandler`).
"""

from nacrith.logs.archive import DEFAULT_CHUNK_BYTES, LogArchive, lock_path
from nacrith.logs.handler import LogArchiveHandler

__all__ = ["DEFAULT_CHUNK_BYTES", "LogArchive", "LogArchiveHandler", "lock_path"]

"""nacrith: lossless neural compression for text and files.

    >>> import nacrith
    >>> archive = nacrith.compress(b"hello, world\\n", method="zstd")
    >>> nacrith.decompress(archive)
    b'hello, world\\n'

Importing nacrith loads no model and starts no thread: codecs are imported on first use.
"""

from nacrith.api import Compressor, Decompressor, compress, decompress
from nacrith.errors import (
    CorruptDataError,
    FormatError,
    ModelMismatchError,
    ModelNotFoundError,
    NacrithError,
    OutputLimitError,
    TruncatedError,
)
from nacrith.file import NacrithFile, open
from nacrith.formats.container import FORMAT_VERSION, MAGIC

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "Compressor",
    "CorruptDataError",
    "Decompressor",
    "FormatError",
    "ModelMismatchError",
    "ModelNotFoundError",
    "NacrithError",
    "NacrithFile",
    "OutputLimitError",
    "TruncatedError",
    "__version__",
    "compress",
    "decompress",
    "open",
]

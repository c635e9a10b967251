"""nacrith: lossless neural compression for text and files."""

from nacrith.errors import (
    CorruptDataError,
    FormatError,
    ModelMismatchError,
    ModelNotFoundError,
    NacrithError,
    OutputLimitError,
    TruncatedError,
)

__version__ = "0.1.0"

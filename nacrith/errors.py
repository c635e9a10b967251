"""The one exception hierarchy of nacrith.

Every failure caused by the content of an archive, by a model, or by a codec is a
`NacrithError`. Bad arguments stay `ValueError` / `TypeError`, as in the standard library.
"""

from __future__ import annotations

__all__ = [
    "CorruptDataError",
    "FormatError",
    "ModelMismatchError",
    "ModelNotFoundError",
    "NacrithError",
    "OutputLimitError",
    "TruncatedError",
]


class NacrithError(Exception):
    """Root of every error nacrith raises about archives, models and codecs."""


class FormatError(NacrithError):
    """The data is not a nacrith archive, or uses a format version or feature we do not know."""


class CorruptDataError(NacrithError):
    """A checksum or a structural invariant of the archive does not hold."""


class TruncatedError(NacrithError, EOFError):
    """The archive ended before its end record."""


class ModelMismatchError(NacrithError):
    """The model here is not the one the archive was made with, or computes other logits."""


class ModelNotFoundError(NacrithError):
    """A model file could not be found or fetched."""


class OutputLimitError(NacrithError):
    """Decoding would produce more than the caller's `max_output_size`."""

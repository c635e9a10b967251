"""The error the bench library raises for an argument it cannot use."""

from __future__ import annotations

from nacrith.errors import NacrithError

__all__ = ["BenchUsageError"]


class BenchUsageError(NacrithError, ValueError):
    """A target, method or peer that names nothing here, or nothing left to run.

    The `ncz bench` command shows it as a usage error; library callers may catch it as
    `ValueError` or `NacrithError`.
    """

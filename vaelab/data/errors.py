"""The one exception type the data layer raises for problems a user can fix."""

from __future__ import annotations


class DataError(ValueError):
    """A data problem: the message names what is wrong, the file or field, and how to fix it."""

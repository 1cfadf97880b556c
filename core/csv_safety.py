"""CSV cells a spreadsheet will not run: the one helper of every CSV export.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
as a formula by Excel, LibreOffice and Google Sheets (CSV injection): an order id, a
marketplace name or an audit detail from outside could then run ``=HYPERLINK(...)``
on the reader's machine. Such a cell is written with a leading ``'``, which the
spreadsheet shows as text. Numbers (``-1.5``) stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

__all__ = ["FORMULA_START", "SafeCsvWriter", "csv_cell"]

#: What makes a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: Any) -> str:
    """``value`` as a CSV cell no spreadsheet reads as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through :func:`csv_cell`.

    ``writerow`` returns what the underlying writer returns (the line, with a file-like
    object whose ``write`` returns its argument, for streamed responses)."""

    def __init__(self, target: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(target, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])

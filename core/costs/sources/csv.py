"""``csv:<file or folder>``: Google Cloud's usage cost export written as CSV files.

A folder is read in name order and each file is one export, fingerprinted by its SHA-256: a file already
imported is skipped, a new file in the folder is picked up at the next import. Files are streamed, never
loaded whole; a file larger than :data:`MAX_FILE_BYTES` is refused (split the export).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from core.costs.rows import BadExport
from core.costs.sources import Export

MAX_FILE_BYTES = 1 << 30
"""The largest file imported (1 GiB, about 4 million rows); a larger one is refused before it is read."""
CHUNK = 1 << 20


class CsvSource:
    """CSV exports from one file or every ``*.csv`` file of a folder."""

    def __init__(self, target: str) -> None:
        self.path = Path(target).expanduser()

    @property
    def label(self) -> str:
        """``csv:<path>``."""
        return f"csv:{self.path}"

    def files(self) -> list[Path]:
        """The files to read: the file itself, or the folder's ``*.csv`` files in name order.

        Raises:
            BadExport: the file or folder does not exist (any more) or cannot be read.
        """
        try:
            if self.path.is_dir():
                return sorted(p for p in self.path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
            if self.path.is_file():
                return [self.path]
        except OSError as error:
            raise BadExport(f"The billing folder {self.path} cannot be read: {error.strerror}.",
                            hint="Check RAD_BILLING_SOURCE and the folder's permissions.") from None
        raise BadExport(f"The billing source {self.path} does not exist (any more).",
                        hint="Check RAD_BILLING_SOURCE: the file or folder was moved or removed. Nothing was "
                             "imported.")

    def exports(self, watermark: datetime | None, imported: set[str]) -> Iterator[Export]:
        """Each file not imported yet (by content), as one export; ``watermark`` is not used for files."""
        for path in self.files():
            try:
                export = csv_export(path)
            except BadExport as error:  # refused when read, so the folder's other files still go in
                yield Export(path.name, f"refused:{path.name}", _refuse(error))
                continue
            if export.digest not in imported:
                yield export


def csv_export(path: Path) -> Export:
    """One CSV file as an export, checked for size and fingerprinted.

    Raises:
        BadExport: the file is too large, gone, or unreadable.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadExport(f"{path.name} is {size / (1 << 30):.1f} GiB; the largest file imported is "
                            f"{MAX_FILE_BYTES >> 30} GiB.",
                            hint="Export the billing table in smaller files (one per day or per invoice month); "
                                 "nothing of this file was imported.")
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError as error:
        raise BadExport(f"{path.name} cannot be read: {error.strerror}.",
                        hint="Check that the file is still there and readable; nothing was imported.") from None
    return Export(path.name, digest.hexdigest(), read_lines(path))


def _refuse(error: BadExport) -> Iterator[tuple[int, list[str]]]:
    raise error
    yield  # pragma: no cover - makes this a generator


def read_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The file's records with their line numbers, streamed; BadExport for what is not CSV or not UTF-8."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            for values in reader:
                if values:
                    yield reader.line_num, values
    except UnicodeDecodeError:
        raise BadExport(f"{path.name} is not UTF-8 text.", hint="Export it as CSV (UTF-8); nothing was imported.") \
            from None
    except csv.Error as error:
        raise BadExport(f"{path.name} is not valid CSV: {error}.",
                        hint="Export it again as CSV; nothing was imported.") from None
    except OSError as error:
        raise BadExport(f"{path.name} could not be read to the end: {error.strerror}.",
                        hint="Check the file is still there; nothing was imported.") from None

"""Rows of a CSV or XLSX file as dictionaries, each with the line number people see."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class TableFileError(ValueError):
    """The file cannot be read as a table at all."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()


def read_rows(path: Path) -> list[Row]:
    """Rows keyed by lower-cased header names; blank lines are left out."""
    if not path.is_file():
        raise TableFileError(f"{path}: file not found")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return list(_xlsx_rows(path))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableFileError(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
    return list(_csv_rows(text, path))


def _csv_rows(text: str, path: Path) -> Iterator[Row]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
    header: list[str] | None = None
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in record]
                continue
            if len(record) > len(header):
                raise TableFileError(
                    f"{path}, line {reader.line_num}: {len(record)} columns, "
                    f"the header has {len(header)}"
                )
            yield Row(reader.line_num, dict(zip(header, record, strict=False)))
    except csv.Error as exc:
        raise TableFileError(f"{path}, line {reader.line_num}: {exc}") from None
    if header is None:
        raise TableFileError(f"{path}: the file is empty")


def _xlsx_rows(path: Path) -> Iterator[Row]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise TableFileError(f"{path}: not a readable XLSX file ({exc})") from None
    try:
        sheet = book.worksheets[0]
        header: list[str] | None = None
        for number, record in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = ["" if value is None else _cell_text(value) for value in record]
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in cells]
                continue
            yield Row(number, dict(zip(header, cells, strict=False)))
        if header is None:
            raise TableFileError(f"{path}: the first sheet is empty")
    finally:
        book.close()


def _cell_text(value: object) -> str:
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

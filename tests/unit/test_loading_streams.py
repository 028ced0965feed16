"""The loader's pure parts: file streams, line numbers, notices, reasons, drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import orders_source

from metricstack.loading import streams
from metricstack.loading.declarations import Column
from metricstack.loading.quarantine import Rejected, parse_notice, reason
from metricstack.loading.raw_tables import compare_columns
from metricstack.loading.streams import CsvFile, FileFormatError, JsonLinesFile

ORDERS = orders_source()


def test_csv_streams_in_bounded_chunks_and_keeps_bad_lines_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "CHUNK", 64)  # many chunks from a small file
    lines = [f"{i},{i},2024-01-01,ok,1.00\n".encode() for i in range(1, 40)]
    lines[9] = "10,10,2024-01-01,café,1.00\n".encode("cp1252")
    lines[29] = "30,30,2024-01-01,naïve,1.00\n".encode("cp1252")
    path = tmp_path / "a.csv"
    path.write_bytes(b"order_id,customer_id,ordered_at,status,amount\n" + b"".join(lines))
    stream = CsvFile(path)
    chunks = list(stream.chunks())
    assert max(len(c) for c in chunks) <= 2 * 64
    sent = b"".join(chunks).splitlines()
    assert len(sent) == 37
    assert [(d.line, d.column, d.value) for d in stream.dropped] == [
        (11, "status", "caf\\xe9"),
        (31, "status", "na\\xefve"),
    ]
    # COPY's line 10 is the file's line 12: line 11 was held back
    assert [stream.file_line(n) for n in (1, 9, 10, 28, 29)] == [2, 10, 12, 30, 32]
    records = stream.records_at([12, 40])
    assert records[12]["order_id"] == "11" and records[40]["order_id"] == "39"


def test_an_empty_file_or_a_foreign_encoding_fails_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError, match=r"empty\.csv: the file is empty"):
        CsvFile(empty)
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("a,b\n1,2\n".encode("utf-16"))
    with pytest.raises(FileFormatError, match=r"utf16\.csv: the header line is not valid UTF-8"):
        CsvFile(utf16)


def test_json_lines_become_one_copy_line_per_record(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"order_id": 1, "status": "two\\nlines\\tand tab", "extra": {"k": [1]}}\n'
        "\n"
        "not json\n"
        '{"order_id": 2, "status": null, "amount": 1.5}\n'
    )
    stream = JsonLinesFile(path, ("order_id", "status", "amount"))
    assert stream.header == ("order_id", "status", "amount", "extra")
    sent = b"".join(stream.chunks()).decode().splitlines()
    assert sent == [
        '1\ttwo\\nlines\\tand tab\t\\N\t{"k": [1]}',
        "2\t\\N\t1.5\t\\N",
    ]
    assert [(d.line, d.reason) for d in stream.dropped] == [(3, "not a JSON object")]
    assert [stream.file_line(n) for n in (1, 2)] == [1, 4]
    assert stream.records_at([4]) == {
        4: {"order_id": 2, "status": None, "amount": 1.5, "extra": None}
    }


def test_server_notices_are_read_into_rejects() -> None:
    notice = 'skipping row due to data type incompatibility at line 7 for column "amount": "n/a"'
    assert parse_notice(notice) == Rejected(7, "amount", "n/a")
    null = (
        'skipping row due to data type incompatibility at line 3 for column "order_id": null input'
    )
    assert parse_notice(null) == Rejected(3, "order_id", None)
    assert parse_notice("3 rows were skipped due to data type incompatibility") is None


def test_reasons_name_the_column_and_what_was_expected() -> None:
    amount = Column("amount", "numeric(18,2)", nullable=False)
    assert reason(amount, "n/a") == "amount: 'n/a' is not a number"
    assert reason(amount, None) == "amount: empty, but the column is required"
    assert "is not a timestamp" in reason(Column("at", "timestamptz"), "02/01/2024")


def test_drift_keeps_new_columns_and_fails_on_missing_required(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    drift = compare_columns(path, (*ORDERS.column_names, "channel"), ORDERS)
    assert (drift.new, drift.missing) == (("channel",), ())
    with pytest.raises(FileFormatError, match=r"missing \['amount'\], unexpected \['channel'\]"):
        compare_columns(path, (*ORDERS.column_names[:4], "channel"), ORDERS)
    with pytest.raises(FileFormatError, match="repeated names"):
        compare_columns(path, (*ORDERS.column_names, "amount"), ORDERS)

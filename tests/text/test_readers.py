"""Streaming readers: every format, fields, ids, and the bad inputs users actually have."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embedlab.errors import DataFormatError, EmbedlabError, InputError
from embedlab.text.readers import count_records, read_records, read_texts

TEXTS = ["the first text", "a second, with a comma", 'a "quoted" third']


@pytest.fixture()
def files(tmp_path):
    txt = tmp_path / "in.txt"
    txt.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"body": t, "key": f"k{i}"}) + "\n" for i, t in enumerate(TEXTS))
    )
    csv_path = tmp_path / "in.csv"
    import csv

    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "body"])
        writer.writerows([f"k{i}", t] for i, t in enumerate(TEXTS))
    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.table({"key": [f"k{i}" for i in range(3)], "body": TEXTS}), parquet)
    return {"txt": txt, "jsonl": jsonl, "csv": csv_path, "parquet": parquet}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_structured_formats_read_field_and_ids(files, fmt):
    records = list(read_records(files[fmt], field="body", id_field="key"))
    assert [r.text for r in records] == TEXTS
    assert [r.id for r in records] == ["k0", "k1", "k2"]
    assert count_records(files[fmt]) == 3


def test_txt_lines_get_row_numbers(files):
    records = list(read_records(files["txt"]))
    assert [r.text for r in records] == TEXTS
    assert [r.id for r in records] == [0, 1, 2]
    assert list(read_texts(files["txt"])) == TEXTS


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_missing_field_names_the_fields_there_are(files, fmt):
    with pytest.raises(DataFormatError, match="no field 'text'") as info:
        list(read_records(files[fmt]))
    assert "body" in str(info.value) and "--field" in str(info.value)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("fine line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8 text \\(line 2"):
        list(read_records(path))


def test_empty_line_is_an_error_unless_skipped(tmp_path):
    path = tmp_path / "gaps.txt"
    path.write_text("one\n\nthree\n")
    with pytest.raises(DataFormatError, match="line 2 of .* is empty"):
        list(read_records(path))
    records = list(read_records(path, skip_empty=True))
    assert [(r.id, r.text) for r in records] == [(0, "one"), (2, "three")]


def test_empty_file_and_unknown_extension_and_missing_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match="holds no texts"):
        list(read_records(empty))
    with pytest.raises(DataFormatError, match="cannot read"):
        list(read_records(tmp_path / "data.xlsx"))
    with pytest.raises(EmbedlabError, match="no file at"):
        list(read_records(tmp_path / "missing.txt"))


def test_bad_jsonl_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{not json}\n')
    with pytest.raises(DataFormatError, match="line 2 .* not valid JSON"):
        list(read_records(path))

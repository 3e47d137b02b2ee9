"""Streaming readers: every format, fields, ids, and the bad inputs users actually have."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embedlab.errors import DataFormatError, EmbedlabError, FieldError, InputError
from embedlab.text.readers import (
    check_input_file,
    count_records,
    iter_rows,
    read_dataset,
    read_records,
    read_texts,
)

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


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.txt", "\ufefffirst\nsecond\n"),
        ("bom.csv", "\ufefftext,label\nfirst,a\nsecond,b\n"),
        ("bom.jsonl", '\ufeff{"text": "first"}\n{"text": "second"}\n'),
    ],
)
def test_a_byte_order_mark_is_not_part_of_the_first_text(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    assert list(read_texts(path)) == ["first", "second"]
    assert read_dataset(path)[0] == ["first", "second"]


def test_an_unterminated_quote_is_an_error_not_merged_rows(tmp_path):
    path = tmp_path / "open.csv"
    path.write_text('text,label\n"an open quote,a\nsecond,b\nthird,c\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match="not valid CSV near line .* quote"):
        list(read_texts(path))
    with pytest.raises(DataFormatError, match="not valid CSV"):
        read_dataset(path)
    with pytest.raises(DataFormatError, match="not valid CSV"):
        list(iter_rows(path))


def test_quoted_newlines_are_still_one_field(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('text\n"two\nlines"\nplain\n', encoding="utf-8")
    assert list(read_texts(path)) == ["two\nlines", "plain"]


def test_a_corrupt_parquet_file_is_one_clear_error_everywhere(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + bytes(range(256)) + b"PAR1")
    for call in (
        lambda: list(read_texts(path)),
        lambda: count_records(path),
        lambda: read_dataset(path),
        lambda: list(iter_rows(path)),
    ):
        with pytest.raises(DataFormatError, match="not a readable Parquet file"):
            call()


def test_a_missing_field_is_a_field_error_naming_the_field(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("body\nhello\n", encoding="utf-8")
    with pytest.raises(FieldError) as info:
        read_dataset(path, field="text")
    assert info.value.field == "text" and "body" in str(info.value)


def test_check_input_file_refuses_before_reading(tmp_path):
    (tmp_path / "dir.txt").mkdir()
    for name, match in (
        ("missing.txt", "no file at"),
        ("dir.txt", "not a file"),
        ("x.doc", "extension"),
    ):
        with pytest.raises(EmbedlabError, match=match):
            check_input_file(tmp_path / name)

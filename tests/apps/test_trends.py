"""trends: topics over time on real dated text (Debian changelogs), and clear errors."""

from __future__ import annotations

import csv
import datetime as dt
import glob
import json
from collections import Counter

import pytest

import embedlab
from cli_helpers import assert_one_line_error, invoke_cli
from embedlab.apps.trends import (
    debian_changelog_entries,
    find_trends,
    parse_time,
    period_index,
    period_label,
    read_collection_dated,
)
from embedlab.errors import DataFormatError, InputError
from embedlab.store import create_collection, open_collection

# three real changelogs: two with decades of history, one whose entries begin in 2020
OLD, LATE = ("debianutils", "gzip"), "openjdk-17"


@pytest.fixture(scope="module")
def changelog_rows() -> list[dict[str, str]]:
    rows = debian_changelog_entries(sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")))
    rows = [r for r in rows if r["package"] in (*OLD, LATE)]
    if {r["package"] for r in rows} != {*OLD, LATE}:
        pytest.skip("needs the Debian changelogs of debianutils, gzip and openjdk-17")
    return rows


@pytest.fixture(scope="module")
def static_minilm() -> embedlab.Embedder:
    return embedlab.load("static-minilm")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-06", dt.datetime(2026, 12, 6)),
        ("2026-12-06T10:30:00Z", dt.datetime(2026, 12, 6, 10, 30)),
        ("2026-12-06T12:30:00+02:00", dt.datetime(2026, 12, 6, 10, 30)),
        ("Sun, 06 Dec 2026 10:30:00 +0000", dt.datetime(2026, 12, 6, 10, 30)),
        ("Mon, 7 Dec 2026 01:00:00 +0200", dt.datetime(2026, 12, 6, 23, 0)),
        ("6 Dec 2026", dt.datetime(2026, 12, 6)),
        ("6 December 2026", dt.datetime(2026, 12, 6)),
        ("Dec 6, 2026", dt.datetime(2026, 12, 6)),
        ("December 6th, 2026", dt.datetime(2026, 12, 6)),
        ("2026-12", dt.datetime(2026, 12, 1)),
        ("1796553000", dt.datetime(2026, 12, 6, 10, 30)),
        (1796553000, dt.datetime(2026, 12, 6, 10, 30)),
        (dt.date(2026, 12, 6), dt.datetime(2026, 12, 6)),
    ],
)
def test_dates_as_real_data_writes_them(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("bad", ["yesterday", "13/45/2026", "", None, True, -5, "2026-13-01"])
def test_what_is_not_a_date_is_refused(bad):
    with pytest.raises(ValueError):
        parse_time(bad)


def test_periods_are_consecutive_and_labelled():
    when = dt.datetime(2026, 12, 6)
    assert [period_label(period_index(when, p), p) for p in ("day", "week", "month")] == [
        "2026-12-06",
        "2026-W49",
        "2026-12",
    ]
    assert period_label(period_index(when, "quarter"), "quarter") == "2026-Q4"
    jan = dt.datetime(2027, 1, 1)
    assert period_index(jan, "month") == period_index(when, "month") + 1
    assert period_index(jan, "quarter") == period_index(when, "quarter") + 1
    assert period_index(dt.datetime(2026, 12, 7), "week") == period_index(when, "week") + 1


def test_finds_the_topic_that_appears_only_after_2020(changelog_rows, static_minilm):
    rows = changelog_rows
    packages = [r["package"] for r in rows]
    years = Counter(parse_time(r["date"]).year for r in rows if r["package"] == LATE)
    assert min(years) >= 2020 and sum(years.values()) >= 30  # the known change, in the data
    result = find_trends(
        [r["text"] for r in rows], [r["date"] for r in rows], static_minilm, period="year"
    )
    assert result.periods[0] <= "1997" and result.periods[-1] >= "2023"
    assert sum(result.totals) == len(rows)
    assert [sum(col) for col in zip(*(t.counts for t in result.topics), strict=True)] == (
        result.totals
    )
    late_topics = []
    for topic in result.topics:
        members = Counter(
            p for p, label in zip(packages, result.labels, strict=True) if label == topic.id
        )
        if members[LATE] >= 0.8 * topic.size:
            late_topics.append(topic)
    assert late_topics
    for topic in late_topics:  # every OpenJDK topic is found new, from 2020 on, significantly
        assert topic.trend == "new" and topic.since >= "2020", topic
        assert topic.p_new < 1e-6
    old = [t for t in result.topics if t not in late_topics and t.trend == "new"]
    assert all(t.since < "2020" for t in old)


def test_one_period_and_bad_dates_are_clear_errors(static_minilm):
    texts = ["Fix the build on arm64.", "Update the man page.", "New upstream release."]
    with pytest.raises(InputError, match="all 3 texts fall in one month"):
        find_trends(
            texts, ["2026-12-01", "6 Dec 2026", "Sun, 20 Dec 2026 10:00:00 +0000"], static_minilm
        )
    with pytest.raises(DataFormatError, match=r"row 2: cannot read 'last tuesday' in field"):
        find_trends(texts, ["2026-12-01", "last tuesday", "2027-01-01"], static_minilm)
    with pytest.raises(InputError, match="unknown period"):
        find_trends(texts, ["2026-12-01"] * 3, static_minilm, period="decade")


def test_cli_trends_writes_table_and_charts(changelog_rows, tmp_path):
    data = tmp_path / "changelogs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in changelog_rows), encoding="utf-8")
    out = tmp_path / "trends"
    result = invoke_cli(
        "trends", data, "--time-field", "date", "--period", "year", "-m", "static-minilm",
        "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "new" in result.stdout and "openjdk" in result.stdout
    with (out / "trends.csv").open(encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0][:3] == ["topic", "terms", "trend"] and table[-1][0] == "all"
    assert sum(int(c) for c in table[-1][3:]) == len(changelog_rows)
    topics = json.loads((out / "topics.json").read_text(encoding="utf-8"))
    assert topics["period"] == "year" and "Binomial" in topics["test"]
    assert (out / "trends.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "trends.html").read_text(encoding="utf-8")
    assert "<polygon" in page and "openjdk" in page


def test_cli_trends_bad_input_is_one_line(tmp_path):
    rows = [{"text": "Fix the build.", "when": "2026-12-01"}, {"text": "Update docs.", "when": "x"}]
    rows.append({"text": "New release.", "when": "2027-02-01"})
    data = tmp_path / "dated.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert_one_line_error(
        invoke_cli("trends", data, "-m", "static-minilm"), "no field 'date'", "--time-field"
    )
    assert_one_line_error(
        invoke_cli("trends", data, "--time-field", "when", "-m", "static-minilm"),
        "row 2: cannot read 'x'",
        "ISO 8601",
    )
    same = tmp_path / "same.jsonl"
    same.write_text(
        "".join(
            json.dumps({"text": f"text {i}", "date": f"2026-12-0{i + 1}"}) + "\n" for i in range(3)
        ),
        encoding="utf-8",
    )
    assert_one_line_error(
        invoke_cli("trends", same, "-m", "static-minilm"), "one month", "--period"
    )


@pytest.fixture(scope="module")
def changelog_collection(changelog_rows, static_minilm, tmp_path_factory) -> str:
    """The changelog entries in a local collection, each dated by its ``date`` metadata, plus
    one undated item."""
    where = str(tmp_path_factory.mktemp("trends") / "changelogs")
    with create_collection(where, model=static_minilm) as col:
        col.add(
            [r["text"] for r in changelog_rows] + ["An entry nobody dated."],
            metadatas=[{"date": r["date"], "package": r["package"]} for r in changelog_rows]
            + [{"package": "none"}],
        )
    return where


def test_trends_on_a_collection_reuse_its_stored_vectors(changelog_rows, changelog_collection):
    with open_collection(changelog_collection) as col:
        texts, times, vectors, skipped = read_collection_dated(col, "date")
        assert skipped == 1 and len(texts) == len(changelog_rows) == len(vectors)
        with pytest.raises(InputError, match=r"has a 'when' metadata field \(its fields: date"):
            read_collection_dated(col, "when")
    package_of = {r["text"]: r["package"] for r in changelog_rows}
    # only the model's name: nothing can be embedded, so the stored vectors are what clusters
    result = find_trends(texts, times, "static-minilm", vectors=vectors, period="year")
    assert result.model == "static-minilm" and sum(result.totals) == len(texts)
    late = [
        t
        for t in result.topics
        if Counter(
            package_of[x] for x, label in zip(texts, result.labels, strict=True) if label == t.id
        )[LATE]
        >= 0.8 * t.size
    ]
    assert late and all(t.trend == "new" and t.since >= "2020" for t in late)
    with pytest.raises(InputError, match="one vector per text"):
        find_trends(texts, times, "static-minilm", vectors=vectors[:-1])


def test_cli_trends_on_a_collection(changelog_collection, static_minilm, tmp_path):
    result = invoke_cli("trends", changelog_collection, "--time-field", "date", "--period", "year")
    assert result.returncode == 0, result.stderr
    assert "new" in result.stdout and "openjdk" in result.stdout
    assert "left out 1 items with no text or no 'date'" in result.stderr
    out = tmp_path / "out"
    again = invoke_cli(
        "trends", "--collection", changelog_collection, "--period", "year", "--json",
        "--out", out,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["model"] == static_minilm.name  # the collection's model
    assert (out / "trends.png").exists()
    embedded = invoke_cli(
        "trends", changelog_collection, "--period", "year", "-m", "glove-50d", "--json"
    )  # -m: embed the collection's texts again with another model
    assert embedded.returncode == 0, embedded.stderr
    assert json.loads(embedded.stdout)["model"] == "glove"
    assert_one_line_error(
        invoke_cli("trends", changelog_collection, "--time-field", "when"),
        "no item of collection",
        "--time-field",
    )
    assert_one_line_error(
        invoke_cli("trends", changelog_collection, "--collection", changelog_collection),
        "not both",
    )

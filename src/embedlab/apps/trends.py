"""Topics over time: cluster dated texts, count each topic per period, say which rise and fall.

Texts are embedded and clustered with labels (:func:`embedlab.apps.cluster.cluster_texts`,
c-TF-IDF terms), then counted per topic and period (day, week, month, quarter or year; empty
periods in between count as zero). Each topic gets one verdict, by stated tests:

- **new** since period ``f``, where ``f`` is the period by which 10% of the topic's texts have
  appeared (so a few strays earlier do not hide a start): were its share before ``f`` what it
  is from ``f`` on, so few of the texts before ``f`` being in it has binomial probability
  ``P(Binomial(n_before, share_after) <= count_before)`` < ``alpha``; **gone** until the
  period by which 90% have appeared is the same test backwards;
- **rising** / **falling**: the least-squares slope of its share per period (periods with
  texts only) differs from zero by a two-sided t-test (slope / standard error, n - 2 degrees
  of freedom) at ``alpha``;
- **steady** otherwise.

Dates are read as real data writes them: ISO 8601, RFC 2822 (e-mail, Debian changelogs),
"6 Dec 2026", "Dec 6, 2026", Unix seconds; times with a zone are taken in UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import html
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedlab._io import atomic_folder
from embedlab.apps.cluster import NOISE, cluster_texts
from embedlab.errors import DataFormatError, InputError
from embedlab.extras import require
from embedlab.text.readers import read_columns
from embedlab.viz.map import PALETTE

if TYPE_CHECKING:
    from embedlab.embedders.base import Embedder
    from embedlab.store.collection import Collection

PERIODS = ("day", "week", "month", "quarter", "year")
ONSET_SHARE = 0.1  # a topic starts once over 10% of its texts have appeared (strays before)
_FORMATS = (
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %b %Y %H:%M",
    "%d %b %Y %H:%M:%S",
    "%Y/%m/%d",
    "%Y-%m",
    "%Y",
)
_EPOCH_RANGE = (0, 4_102_444_800)  # Unix seconds from 1970 to 2100
DATE_HINT = "write dates as ISO 8601 (2026-12-06), RFC 2822 (Sun, 06 Dec 2026 10:00:00 +0000) or '6 Dec 2026'"


# -- dates and periods ---------------------------------------------------------------------------
def parse_time(value: Any) -> dt.datetime:
    """One date or time as real data writes it, as a naive UTC datetime; ValueError if none."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not _EPOCH_RANGE[0] <= value <= _EPOCH_RANGE[1]:
            raise ValueError(f"{value} is not Unix seconds between 1970 and 2100")
        parsed = dt.datetime.fromtimestamp(value, dt.UTC)
    elif isinstance(value, str) and value.strip():
        parsed = _parse_text(value.strip())
    else:
        raise ValueError(f"{value!r} is not a date")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _parse_text(text: str) -> dt.datetime:
    if re.fullmatch(r"\d{9,10}(\.\d+)?", text):
        return parse_time(float(text))
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    if re.search(r"\d{1,2}:\d{2}", text) and re.search(r"[A-Za-z]{3}", text):
        try:
            return parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            pass
    cleaned = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", re.sub(r"^[A-Za-z]+,\s*", "", text))
    for pattern in _FORMATS:
        try:
            return dt.datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date embedlab can read")


def period_index(when: dt.datetime, period: str) -> int:
    """A whole number per period, consecutive periods consecutive numbers."""
    if period == "day":
        return when.toordinal()
    if period == "week":
        return (when.toordinal() - 1) // 7  # ordinal 1 (1 Jan 1 AD) is a Monday
    if period == "month":
        return when.year * 12 + when.month - 1
    if period == "quarter":
        return when.year * 4 + (when.month - 1) // 3
    return when.year


def period_label(index: int, period: str) -> str:
    """The name of the period numbered ``index``: 2026-12-06, 2026-W49, 2026-12, 2026-Q4, 2026."""
    if period == "day":
        return dt.date.fromordinal(index).isoformat()
    if period == "week":
        year, week, _ = dt.date.fromordinal(index * 7 + 1).isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{index // 12}-{index % 12 + 1:02d}"
    if period == "quarter":
        return f"{index // 4}-Q{index % 4 + 1}"
    return str(index)


def check_period(period: str) -> str:
    if period not in PERIODS:
        raise InputError(f"unknown period {period!r}", f"use one of {', '.join(PERIODS)}")
    return period


def parse_times(values: Sequence[Any], field_name: str = "time") -> list[dt.datetime]:
    """Every value as a datetime, or an error naming the first one that is not a date."""
    out = []
    for i, value in enumerate(values):
        try:
            out.append(parse_time(value))
        except (ValueError, OverflowError, OSError) as exc:
            raise DataFormatError(
                f"row {i + 1}: cannot read {str(value)[:60]!r} in field {field_name!r} as a date "
                f"({exc})",
                DATE_HINT,
            ) from None
    return out


# -- the analysis ----------------------------------------------------------------------------------
@dataclass
class TopicTrend:
    """One topic's counts per period and the verdict of the tests (module docstring)."""

    id: int
    terms: list[str]
    size: int
    counts: list[int]
    shares: list[float | None]  # None where a period has no texts at all
    first: str
    last: str
    since: str  # onset: the period by which ONSET_SHARE of its texts had appeared
    until: str  # the period by which all but ONSET_SHARE of its texts had appeared
    slope: float | None  # change of share per period
    slope_se: float | None
    p_slope: float | None
    p_new: float | None  # P(so few before `since` | its share from then on); small: new
    p_gone: float | None
    trend: str
    example: str = ""

    @property
    def label(self) -> str:
        return f"{self.id}: {', '.join(self.terms[:3]) or 'no terms'}"


@dataclass
class TrendsResult:
    period: str
    periods: list[str]
    totals: list[int]
    topics: list[TopicTrend]
    labels: np.ndarray  # topic of each text
    text_periods: list[str]  # period of each text
    model: str
    alpha: float
    test: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "period": self.period,
            "periods": self.periods,
            "totals": self.totals,
            "alpha": self.alpha,
            "test": self.test,
            "topics": [
                {**t.__dict__, "label": t.label}
                for t in self.topics  # dataclass fields are plain data already
            ],
        }

    def verdicts(self, trend: str) -> list[TopicTrend]:
        return [t for t in self.topics if t.trend == trend]


TEST_TEXT = (
    "new (gone): P(Binomial(texts before its onset (after its end), its share from the onset "
    "on (up to the end)) <= its count there) < alpha, onset and end being the periods by which "
    "10% and 90% of its texts had appeared; rising/falling: two-sided t-test of the "
    "least-squares slope of its share per period, at alpha"
)


def default_k(n: int) -> int:
    """sqrt(n / 4) topics, 4 to 20: silhouette favours two or three topics on most text."""
    return int(min(20, max(4, round(math.sqrt(n / 4)))))


def find_trends(
    texts: Sequence[str],
    times: Sequence[Any],
    model: Embedder | str,
    *,
    vectors: np.ndarray | None = None,
    period: str = "month",
    k: int | None = None,
    alpha: float = 0.01,
    min_size: int = 5,
    seed: int = 0,
    time_field: str = "time",
) -> TrendsResult:
    """Cluster ``texts``, count topics per ``period`` of ``times``, test each topic's trend.

    ``vectors``: the texts' vectors, already made by ``model`` (then only its name is needed),
    e.g. a collection's stored ones, so nothing is embedded again.
    """
    check_period(period)
    texts = list(texts)
    if vectors is not None:
        name = model if isinstance(model, str) else model.name
        model = StoredVectors(name, texts, vectors)  # type: ignore[assignment]
    elif isinstance(model, str):
        raise InputError("find_trends got a model name but no vectors", "pass an Embedder")
    assert not isinstance(model, str)
    if len(texts) != len(times):
        raise InputError(f"{len(texts)} texts but {len(times)} times", "pass one time per text")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}", "use e.g. 0.01")
    when = parse_times(times, time_field)
    index = np.array([period_index(w, period) for w in when], dtype=np.int64)
    lo, hi = int(index.min()), int(index.max())
    if lo == hi:
        raise InputError(
            f"all {len(texts)} texts fall in one {period} ({period_label(lo, period)}), so there "
            "is no trend to find",
            "use a shorter --period (e.g. week or day), or texts from a longer time",
        )
    if hi - lo > 5000:
        raise InputError(
            f"the texts span {hi - lo + 1} {period}s ({period_label(lo, period)} to "
            f"{period_label(hi, period)})",
            "use a longer --period (e.g. month or year)",
        )
    result = cluster_texts(texts, model, k=k or min(default_k(len(texts)), len(texts)), seed=seed)
    positions = index - lo
    n_periods = hi - lo + 1
    totals = np.bincount(positions, minlength=n_periods)
    topics = []
    for cluster in result.clusters:
        if cluster.id == NOISE:
            continue
        counts = np.bincount(positions[result.labels == cluster.id], minlength=n_periods)
        topics.append(
            _topic(cluster.id, cluster.terms, counts, totals, period, lo, alpha, min_size)
        )
        topics[-1].example = cluster.examples[0] if cluster.examples else ""
    order = {"new": 0, "rising": 1, "falling": 2, "gone": 3, "steady": 4}
    topics.sort(key=lambda t: (order[t.trend], -t.size))
    return TrendsResult(
        period=period,
        periods=[period_label(lo + i, period) for i in range(n_periods)],
        totals=totals.tolist(),
        topics=topics,
        labels=result.labels,
        text_periods=[period_label(int(i), period) for i in index],
        model=model.name,
        alpha=alpha,
        test=TEST_TEXT,
    )


def _topic(
    topic: int,
    terms: list[str],
    counts: np.ndarray,
    totals: np.ndarray,
    period: str,
    lo: int,
    alpha: float,
    min_size: int,
) -> TopicTrend:
    size = int(counts.sum())
    present = np.flatnonzero(counts)
    first, last = int(present[0]), int(present[-1])
    cumulative = np.cumsum(counts)
    onset = int(np.searchsorted(cumulative, ONSET_SHARE * size, side="right"))
    end = int(np.searchsorted(cumulative, (1 - ONSET_SHARE) * size))
    filled = totals > 0
    shares = np.where(filled, counts / np.maximum(totals, 1), np.nan)
    p_new = _p_absent(counts, totals, onset, before=True)
    p_gone = _p_absent(counts, totals, end, before=False)
    slope, se, p_slope = _slope_test(shares[filled], np.flatnonzero(filled))
    trend = "steady"
    if size >= min_size and p_new is not None and p_new < alpha:
        trend = "new"
    elif size >= min_size and p_gone is not None and p_gone < alpha:
        trend = "gone"
    elif p_slope is not None and p_slope < alpha and slope is not None:
        trend = "rising" if slope > 0 else "falling"
    return TopicTrend(
        id=int(topic),
        terms=list(terms),
        size=size,
        counts=counts.astype(int).tolist(),
        shares=[None if math.isnan(s) else round(float(s), 6) for s in shares],
        first=period_label(lo + first, period),
        last=period_label(lo + last, period),
        since=period_label(lo + onset, period),
        until=period_label(lo + end, period),
        slope=slope,
        slope_se=se,
        p_slope=p_slope,
        p_new=p_new,
        p_gone=p_gone,
        trend=trend,
    )


def _p_absent(counts: np.ndarray, totals: np.ndarray, cut: int, *, before: bool) -> float | None:
    """P(Binomial(n_out, share_in) <= count_out): so few of the topic outside ``cut`` by chance.

    ``before``: outside is the periods before ``cut``, inside from it on; else outside is after
    ``cut``, inside up to it. None when there are no texts outside.
    """
    inside = slice(cut, None) if before else slice(None, cut + 1)
    outside = slice(None, cut) if before else slice(cut + 1, None)
    n_out, n_in = int(totals[outside].sum()), int(totals[inside].sum())
    if n_out == 0 or n_in == 0:
        return None
    from scipy import stats

    share = counts[inside].sum() / n_in
    return float(stats.binom.cdf(int(counts[outside].sum()), n_out, share))


def _slope_test(
    shares: np.ndarray, x: np.ndarray
) -> tuple[float | None, float | None, float | None]:
    """Least-squares slope of share on period number, its standard error and two-sided p."""
    n = len(shares)
    if n < 3:
        return None, None, None
    from scipy import stats

    xc = x - x.mean()
    sxx = float(xc @ xc)
    slope = float(xc @ (shares - shares.mean()) / sxx)
    residuals = shares - shares.mean() - slope * xc
    se = math.sqrt(float(residuals @ residuals) / (n - 2) / sxx)
    if se == 0:
        return slope, 0.0, 0.0 if slope != 0 else 1.0
    p = float(2 * stats.t.sf(abs(slope / se), n - 2))
    return slope, se, p


class StoredVectors:
    """Vectors already made for ``texts`` standing in for the model that made them, so the
    clustering reuses them (a collection's stored vectors) instead of embedding again."""

    trainable = False
    is_fitted = True

    def __init__(self, name: str, texts: list[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise InputError(
                f"{len(texts)} texts but vectors of shape {vectors.shape}",
                "pass one vector per text",
            )
        self.name, self._texts, self._vectors = name, texts, vectors
        self.dim = vectors.shape[1]

    def embed(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        if list(texts) != self._texts:
            raise InputError(
                "stored vectors asked for other texts than they were made for",
                "embed those texts with the model itself",
            )
        return self._vectors


# -- input ---------------------------------------------------------------------------------------
def read_collection_dated(
    collection: Collection, time_field: str, *, vectors: bool = True
) -> tuple[list[str], list[Any], np.ndarray | None, int]:
    """Texts, their ``time_field`` metadata, stored vectors (if asked) and how many items were
    left out (no text, or no such field) from a collection."""
    include = ("text", "metadata", "vector") if vectors else ("text", "metadata")
    texts, times, rows, skipped = [], [], [], 0
    fields: set[str] = set()
    for record in collection.iter(include=include):
        fields.update(record.metadata)
        when = record.metadata.get(time_field)
        if not (isinstance(record.text, str) and record.text.strip()) or when in (None, ""):
            skipped += 1
            continue
        texts.append(record.text)
        times.append(when)
        if vectors:
            rows.append(record.vector)
    if not texts and time_field not in fields:
        known = ", ".join(sorted(fields)[:12]) or "none"
        raise InputError(
            f"no item of collection {collection.name!r} has a {time_field!r} metadata field "
            f"(its fields: {known})",
            "pass --time-field with the field that holds each item's date",
        )
    if len(texts) < 3:
        raise InputError(
            f"collection {collection.name!r} holds {len(texts)} items with a text and a "
            f"{time_field!r} field",
            "trends needs at least 3 dated texts",
        )
    stacked = np.stack(rows).astype(np.float32) if vectors else None  # type: ignore[arg-type]
    return texts, times, stacked, skipped


def read_dated(
    path: str | os.PathLike[str], *, text_field: str = "text", time_field: str = "date"
) -> tuple[list[str], list[Any]]:
    """Texts and their times from a .jsonl/.csv/.parquet file (rows with empty text skipped)."""
    columns = read_columns(path, [text_field, time_field])
    texts, times = [], []
    for text, when in zip(columns[text_field], columns[time_field], strict=True):
        if isinstance(text, str) and text.strip():
            texts.append(text)
            times.append(when)
    if len(texts) < 3:
        raise InputError(
            f"{path} holds {len(texts)} texts with a {text_field!r} field", "pass at least 3 texts"
        )
    return texts, times


_TRAILER = re.compile(r"^ -- .*?<[^>]*>\s+(.+)$")


def debian_changelog_entries(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, str]]:
    """Dated entries of Debian changelogs (``changelog.Debian.gz``): text, date, package.

    Real dated text on every Debian machine; each entry is its change lines joined, dated by
    its `` -- maintainer  date`` trailer (RFC 2822). Identical entries (binary packages of one
    source share a changelog) are kept once.
    """
    seen: set[tuple[str, str]] = set()
    out = []
    for path in paths:
        path = Path(path)
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except (OSError, EOFError):
            continue
        package, body = "", list[str]()
        for line in lines:
            if line and not line[0].isspace():
                package, body = line.split(" ", 1)[0], []
            elif match := _TRAILER.match(line):
                text = " ".join(part.strip() for part in body if part.strip())
                if text and (match.group(1), text) not in seen:
                    seen.add((match.group(1), text))
                    out.append({"text": text, "date": match.group(1).strip(), "package": package})
                body = []
            elif line.startswith("  "):
                body.append(line)
    return out


# -- output --------------------------------------------------------------------------------------
def write_trends(result: TrendsResult, out: str | os.PathLike[str], *, force: bool = False) -> Path:
    """A folder with trends.csv (topic x period counts), topics.json, trends.png, trends.html."""
    with atomic_folder(out, force=force) as tmp:
        with (tmp / "trends.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["topic", "terms", "trend", *result.periods])
            for t in result.topics:
                writer.writerow([t.id, " ".join(t.terms), t.trend, *t.counts])
            writer.writerow(["all", "", "", *result.totals])
        (tmp / "topics.json").write_text(
            json.dumps(result.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        write_png(result, tmp / "trends.png")
        write_html(result, tmp / "trends.html")
    return Path(out)


def _shown(result: TrendsResult, most: int = 10) -> list[TopicTrend]:
    """The topics a chart draws: every flagged one, then the largest, ``most`` in all."""
    flagged = [t for t in result.topics if t.trend != "steady"]
    rest = sorted((t for t in result.topics if t.trend == "steady"), key=lambda t: -t.size)
    return (flagged + rest)[:most]


def write_png(result: TrendsResult, path: Path) -> Path:
    """Stacked areas of each topic's count per period, labelled with its terms and verdict."""
    require("matplotlib", "viz")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = _shown(result)
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=110)
    x = np.arange(len(result.periods))
    ax.stackplot(
        x,
        np.array([t.counts for t in shown], dtype=float),
        labels=[f"{t.label} ({t.trend})" for t in shown],
        colors=[PALETTE[i % len(PALETTE)] for i in range(len(shown))],
        alpha=0.85,
    )
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], [result.periods[i] for i in x[::step]], rotation=45, ha="right")
    ax.set_ylabel(f"texts per {result.period}")
    ax.set_title(f"topics over time ({result.model})")
    ax.legend(loc="upper left", fontsize=7, bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_html(result: TrendsResult, path: Path) -> Path:
    """The same stacked areas as one self-contained page (inline SVG, hover for counts)."""
    shown = _shown(result)
    width, height, pad = 900, 420, 40
    n = len(result.periods)
    stacked = np.cumsum(np.array([t.counts for t in shown], dtype=float), axis=0)
    top = max(float(stacked[-1].max()) if len(stacked) else 1.0, 1.0)

    def xy(i: int, v: float) -> str:
        x = pad + i * (width - 2 * pad) / max(n - 1, 1)
        return f"{x:.1f},{height - pad - v * (height - 2 * pad) / top:.1f}"

    areas = []
    for row, topic in enumerate(shown):
        below = stacked[row - 1] if row else np.zeros(n)
        points = [xy(i, stacked[row][i]) for i in range(n)]
        points += [xy(i, below[i]) for i in reversed(range(n))]
        tip = html.escape(
            f"{topic.label} ({topic.trend}, first {topic.first}): "
            + ", ".join(f"{p} {c}" for p, c in zip(result.periods, topic.counts, strict=True) if c)
        )
        areas.append(
            f'<polygon points="{" ".join(points)}" fill="{PALETTE[row % len(PALETTE)]}" '
            f'opacity="0.85"><title>{tip}</title></polygon>'
        )
    ticks = "".join(
        f'<text x="{xy(i, 0).split(",")[0]}" y="{height - pad + 14}" font-size="10" '
        f'text-anchor="middle">{html.escape(result.periods[i])}</text>'
        for i in range(0, n, max(1, n // 10))
    )
    keys = "".join(
        f'<li><span style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{html.escape(t.label)} &mdash; {t.trend}, {t.size} texts, first {t.first}</li>"
        for i, t in enumerate(shown)
    )
    title = f"topics over time ({result.model}, per {result.period})"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1em}} polygon:hover{{opacity:1;stroke:#000}}
ul{{list-style:none;padding:0}} li span{{display:inline-block;width:10px;height:10px;margin-right:6px}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>{sum(result.totals)} texts; hover an area for its counts. Test: {html.escape(result.test)}.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" style="border:1px solid #ccc">
{"".join(areas)}{ticks}
</svg><ul>{keys}</ul></body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path

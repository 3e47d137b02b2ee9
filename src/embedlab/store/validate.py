"""Checks of what callers hand a collection, shared by every backend, and content-made ids.

Everything is checked before any backend sees it, so the local and PostgreSQL backends refuse
the same inputs with the same one-line errors (a NUL character, a lone surrogate, NaN, ...).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from embedlab.errors import InputError
from embedlab.store.backend import INCLUDE_ALL
from embedlab.store.errors import DuplicateIdError

ID_DIGITS = 24  # hex digits of a content id: 96 bits, no collision in any real collection


def check_string(value: str, what: str) -> str:
    """Refuse what cannot be stored identically everywhere: NUL (PostgreSQL text cannot hold
    it) and lone surrogates (not encodable as UTF-8)."""
    if "\x00" in value:
        raise InputError(
            f"{what} contains a NUL character (\\x00)", "remove NUL characters from the input"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{what} contains a lone surrogate (text that is not valid Unicode)",
            "decode the input as UTF-8 (errors='replace') or drop the broken characters",
        ) from None
    return value


def _check_json_strings(value: Any, what: str) -> None:
    if isinstance(value, str):
        check_string(value, what)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_string(key, f"{what} key {key[:20]!r}")
            _check_json_strings(item, what)
    elif isinstance(value, list):
        for item in value:
            _check_json_strings(item, what)


def content_ids(
    texts: Sequence[str | None],
    metadatas: Sequence[dict[str, Any]],
    vectors: np.ndarray | None,
    seen: Counter[str] | None = None,
) -> list[str]:
    """Ids made from content, so adding the same items again finds them instead of doubling
    them: the first 24 hex digits of SHA-256 over the text (or, for an item without one, its
    float32 vector bytes) and the metadata as sorted JSON. The n-th repeat of the same content
    (counted in ``seen`` across calls, within one call without it) gets ``-n`` appended."""
    seen = Counter() if seen is None else seen
    out = []
    for i, (text, meta) in enumerate(zip(texts, metadatas, strict=True)):
        digest = hashlib.sha256()
        if text is not None:
            digest.update(b"t" + text.encode("utf-8"))
        else:
            assert vectors is not None
            digest.update(b"v" + np.ascontiguousarray(vectors[i], dtype=np.float32).tobytes())
        digest.update(b"\x00" + json.dumps(meta, sort_keys=True, ensure_ascii=False).encode())
        base = digest.hexdigest()[:ID_DIGITS]
        seen[base] += 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def check_texts(texts: Any, count: int, *, embedding: bool) -> list[str | None]:
    if texts is None:
        return [None] * count
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    texts = list(texts)
    if len(texts) != count:
        raise InputError(f"{len(texts)} texts for {count} vectors", "pass one text per vector")
    for i, text in enumerate(texts):
        if text is None and not embedding:
            continue
        if not isinstance(text, str):
            raise InputError(
                f"text {i} is a {type(text).__name__}, not a string", "convert it to str"
            )
        if embedding and not text.strip():
            raise InputError(f"text {i} is empty", "remove empty texts, or pass its vector")
        check_string(text, f"text {i}")
    return texts


def check_ids(ids: Iterable[str | int], count: int) -> list[str]:
    if isinstance(ids, str | int):
        ids = [ids]
    out = []
    for i, item in enumerate(ids):
        if isinstance(item, bool) or not isinstance(item, str | int | np.integer):
            raise InputError(
                f"id {i} is a {type(item).__name__}", "ids are strings (integers are converted)"
            )
        text = str(item)
        if not text:
            raise InputError(f"id {i} is empty", "give every item a non-empty id")
        out.append(check_string(text, f"id {i}"))
    if len(out) != count:
        raise InputError(f"{len(out)} ids for {count} items", "pass one id per item")
    if len(set(out)) != len(out):
        seen: set[str] = set()
        dupes = [i for i in out if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        raise DuplicateIdError(
            f"the id {dupes[0]!r} appears more than once in this batch",
            "give every item its own id",
        )
    return out


def check_metadatas(metadatas: Sequence[dict[str, Any] | None] | None, count: int) -> list[dict]:
    if metadatas is None:
        return [{} for _ in range(count)]
    if isinstance(metadatas, dict):
        metadatas = [metadatas]
    metadatas = list(metadatas)
    if len(metadatas) != count:
        raise InputError(f"{len(metadatas)} metadata dicts for {count} items", "pass one per item")
    out = []
    for i, meta in enumerate(metadatas):
        meta = {} if meta is None else meta
        if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
            raise InputError(
                f"metadata {i} is not a dict with string keys", 'pass e.g. {"year": 2024}'
            )
        meta = plain_json(meta)
        _check_json_strings(meta, f"metadata {i}")
        try:
            json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"metadata {i} is not JSON ({exc})",
                "use strings, numbers, booleans, null, lists and dicts (no NaN)",
            ) from None
        out.append(meta)
    return out


def plain_json(value: Any) -> Any:
    """numpy scalars and tuples become plain JSON types, so every backend stores the same."""
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError("metadata contains NaN or infinity", "JSON cannot hold them")
    return value


def check_include(include: Sequence[str]) -> tuple[str, ...]:
    if isinstance(include, str):
        include = (include,)
    bad = [i for i in include if i not in INCLUDE_ALL]
    if bad:
        raise InputError(
            f"cannot include {', '.join(map(repr, bad))}",
            f"include any of {', '.join(INCLUDE_ALL)}",
        )
    return tuple(include)

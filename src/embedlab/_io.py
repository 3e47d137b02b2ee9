"""One way to write outputs: a temporary folder beside the target, renamed into place.

Every writer of models and other folders goes through here, so a crash never leaves a half
written folder where a good one was, and nothing embedlab did not write is ever replaced
without ``force``: an existing file is never replaced by a folder at all.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from embedlab.errors import OutputError

# Files that mark a folder embedlab wrote, and the keys that prove embedlab wrote them: a model
# (embedlab.json), a classifier (classifier.json), a GPT trained here (training.json). Such a
# folder may be replaced. A file of the same name without those keys is someone else's.
OUTPUT_MARKERS = ("embedlab.json", "classifier.json", "training.json")
_MARKER_KEYS: dict[str, dict[str, object]] = {
    "embedlab.json": {"format": "embedlab-model"},
    "classifier.json": {"format": "embedlab-classifier"},
    "training.json": {"settings": None, "validation_perplexity": None},  # None: present
}


def is_embedlab_output(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` is a real folder holding one of the files embedlab's writers leave."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    return any(_written_by_embedlab(folder / marker) for marker in OUTPUT_MARKERS)


def _written_by_embedlab(path: Path) -> bool:
    """A marker file counts only with the keys embedlab writes (a name alone proves nothing)."""
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and all(
        key in data and (value is None or data[key] == value)
        for key, value in _MARKER_KEYS[path.name].items()
    )


def _is_empty_folder(folder: Path) -> bool:
    try:
        return next(folder.iterdir(), None) is None
    except OSError as exc:
        raise OutputError(f"cannot read the folder {folder} ({exc.strerror})", "check it") from None


def check_output_folder(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Refuse, before any work, a folder output that would replace what embedlab did not write.

    Allowed: a new path, an empty folder, or a folder embedlab wrote (it is replaced whole). A
    non-empty folder of anything else, or a link, is replaced only with ``force``; a file or
    another non-folder never is. The nearest existing parent must be a writable folder.
    """
    target = Path(path)
    if target.is_symlink():
        if not force:
            raise OutputError(
                f"{target} is a link; writing a model there would replace it",
                "pick a new folder path, or pass --force (force=True) to replace the link",
            )
    elif target.exists():
        if not target.is_dir():
            raise OutputError(
                f"{target} exists and is not a folder; embedlab never replaces a file with a "
                "model folder",
                "pick a folder path that does not exist yet",
            )
        if not force and not is_embedlab_output(target) and not _is_empty_folder(target):
            raise OutputError(
                f"{target} is a folder embedlab did not write (it has no "
                f"{' or '.join(OUTPUT_MARKERS)}); saving there would delete everything in it",
                "pick a new or empty folder, or pass --force (force=True) to replace it",
            )
    check_parent(target)
    return target


def check_parent(target: Path) -> None:
    """The nearest existing parent of ``target`` must be a folder this process can write to."""
    parent = target.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot create {target}: {parent} is not a folder", "pick another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write into {parent} (permission denied)", "pick a folder you can write to"
        )


@contextmanager
def atomic_folder(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` that replaces ``path`` only if the block succeeds.

    A crash or an error mid-write never leaves a half-written folder where a good one was, and
    what is at ``path`` is checked with :func:`check_output_folder` before and after the write.
    """
    target = check_output_folder(path, force=force)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot write {target} ({exc.strerror})", "check the path") from None
    try:
        yield tmp
        check_output_folder(target, force=force)  # something may have appeared meanwhile
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing target is set aside first, then removed."""
    try:
        if not (target.exists() or target.is_symlink()):
            tmp.rename(target)
            return
        backup = tmp.with_name(f"{tmp.name}.old")  # unique: tmp's name is
        target.rename(backup)
        try:
            tmp.rename(target)
        except OSError:
            backup.rename(target)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write {target} ({exc.strerror})", "check the path") from None
    if backup.is_dir() and not backup.is_symlink():
        shutil.rmtree(backup, ignore_errors=True)
    else:
        backup.unlink(missing_ok=True)


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target`` (no extra space), copying where links are refused."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write_json_atomic(
    path: str | os.PathLike[str], data: Any, *, indent: int | None = None, durable: bool = True
) -> None:
    """Write ``data`` as JSON whole: a uniquely named temporary sibling (``.NAME.8hex.tmp``,
    so concurrent writers never share one), fsynced when ``durable``, renamed into place. A
    reader or a crash sees the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=indent, ensure_ascii=False)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

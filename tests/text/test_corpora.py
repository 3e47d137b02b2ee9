"""`embedlab data corpus`: the Wikipedia extract from gensim's test data, and the Debian-package
corpora from .deb files built here with dpkg-deb (so no test needs the network or apt)."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from embedlab.errors import DataFormatError, InputError
from embedlab.text.corpora import (
    _dictd_number,
    corpus_path,
    extract_deb,
    prepare_corpus,
)

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

GCIDE_HEADER = (
    "00-database-info\n   This file was converted from the original database.\n\n"
    "GCIDE is free software; you can redistribute it under the GNU General Public License.\n\n"
)
GCIDE_ENTRIES = """Affect \\Af*fect"\\, v. t. [imp. & p. p. {Affected}; p. pr. & vb.
   n. {Affecting}.] [L. affectus, p. p. of afficere to affect by
   active agency; ad + facere to make. See {Fact}.]
   1. To act upon; to produce an effect or change upon.
      [1913 Webster]

            As might affect the earth with cold heat. --Milton.
      [1913 Webster]

Dichotomy \\Di*chot"o*my\\, n. [Gr. ?, fr. ?.]
   A cutting in two; a division. -- {Di*chot"o*mous*ly}, adv.
   [1913 Webster]

   Syn: division, split
        [WordNet 1.5]
"""


def _b64(value: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = ""
    while True:
        out = alphabet[value % 64] + out
        value //= 64
        if value == 0:
            return out


def build_deb(tmp_path: Path, package: str, files: dict[str, bytes]) -> Path:
    root = tmp_path / f"{package}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 0.0-test\nArchitecture: all\n"
        "Maintainer: embedlab tests <tests@example.invalid>\nDescription: test fixture\n"
    )
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    deb = tmp_path / f"{package}_0.0-test_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


def test_dictd_numbers() -> None:
    assert _dictd_number("5I") == 3656 and _dictd_number(_b64(123456)) == 123456


def test_wiki_corpus_from_gensim_test_data(tmp_path: Path) -> None:
    result = prepare_corpus("wiki", tmp_path)
    assert result.path == tmp_path / "corpora" / "wiki.txt" == corpus_path("wiki", tmp_path)
    lines = result.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == result.lines > 5000 and 400_000 < result.words < 600_000
    text = "\n".join(lines)
    assert "Anarchism is a political philosophy" in text
    for markup in ("[[", "]]", "{{", "'''", "#REDIRECT", "==", "<ref"):
        assert markup not in text, markup
    assert all(len(line.split()) >= 5 for line in lines)
    meta = json.loads(result.meta_path.read_text())
    assert meta["licence"] == "CC BY-SA 3.0" and meta["words"] == result.words
    again = prepare_corpus("wiki", tmp_path)  # already there: kept, not redone
    assert again.seconds == 0.0 and again.lines == result.lines


@needs_dpkg
def test_gcide_from_a_deb(tmp_path: Path) -> None:
    body = (GCIDE_HEADER + GCIDE_ENTRIES).encode()
    start = len(GCIDE_HEADER.encode())
    index = (
        f"00-database-info\t{_b64(0)}\t{_b64(start)}\n"
        f"Affect\t{_b64(start)}\t{_b64(300)}\n"
        f"Dichotomy\t{_b64(start + 300)}\t{_b64(len(body) - start - 300)}\n"
    )
    deb = build_deb(
        tmp_path,
        "dict-gcide",
        {
            "usr/share/dictd/gcide.dict.dz": gzip.compress(body),
            "usr/share/dictd/gcide.index": index.encode(),
        },
    )
    result = prepare_corpus("gcide", tmp_path / "data", deb=deb)
    lines = result.path.read_text(encoding="utf-8").splitlines()
    assert lines == [
        "Affect, To act upon; to produce an effect or change upon.",
        "As might affect the earth with cold heat.",
        "Dichotomy, A cutting in two; a division. -- Dichotomously, adv.",
    ]
    assert result.lines == 3 and json.loads(result.meta_path.read_text())["licence"] == "GPL-2+"


@needs_dpkg
def test_wordnet_from_a_deb(tmp_path: Path) -> None:
    licence = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    noun = (
        licence
        + "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 001 @ 02083346 n 0000 | "
        'a member of the genus Canis; "the dog barked all night"  \n'
    )
    adj = (
        licence + "00001740 00 a 01 able(a) 0 001 ! 00002098 a 0101 | having the means or skill  \n"
    )
    deb = build_deb(
        tmp_path,
        "wordnet-base",
        {"usr/share/wordnet/data.noun": noun.encode(), "usr/share/wordnet/data.adj": adj.encode()},
    )
    result = prepare_corpus("wordnet", tmp_path / "data", deb=deb)
    assert result.path.read_text(encoding="utf-8").splitlines() == [
        'dog, domestic dog, Canis familiaris: a member of the genus Canis; "the dog barked all night"',
        "able: having the means or skill",
    ]


@needs_dpkg
def test_bad_names_and_packages(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Did you mean 'gcide'"):
        prepare_corpus("gcid", tmp_path)
    with pytest.raises(InputError, match="embedlab data corpus wordnet"):
        corpus_path("wordnet", tmp_path)
    with pytest.raises(InputError, match="does not come from a .deb"):
        prepare_corpus("wiki", tmp_path, deb=tmp_path / "x.deb")
    junk = tmp_path / "junk.deb"
    junk.write_bytes(b"not a debian package")
    with pytest.raises(DataFormatError, match="not a readable Debian package"):
        extract_deb(junk, tmp_path / "out")
    wrong = build_deb(tmp_path, "wordnet-base", {"usr/share/doc/x": b"nothing"})
    with pytest.raises(DataFormatError, match="no gcide.dict.dz"):
        prepare_corpus("gcide", tmp_path / "data", deb=wrong)
    assert not (tmp_path / "data" / "corpora" / "gcide.txt").exists()

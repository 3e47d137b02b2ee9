"""`sentences-1m`: real sentences out of documentation formats, assembled without repeats and
without the STS Benchmark's dev/test sentences. Small real slices: gensim's Wikipedia and Lee
samples, short excerpts of real documentation, and a .deb built here with dpkg-deb."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from embedlab.errors import InputError
from embedlab.eval.datasets import gensim_test_file, sts_benchmark
from embedlab.text.corpora import lee_documents, wiki_paragraphs
from embedlab.text.sentence_corpus import (
    SOURCES,
    SentenceSource,
    assemble,
    benchmark_sentences,
    prepare_sentences,
)
from embedlab.text.sentence_sources import (
    changelog_entries,
    html_paragraphs,
    looks_real,
    man_paragraphs,
    pod_paragraphs,
    real_sentences,
    rst_paragraphs,
    wordnet_sentences,
)

# From the Python 3.11 tutorial (python3.11-doc, _sources/tutorial/controlflow.rst.txt).
RST = """\
.. _tut-if:

:keyword:`!if` Statements
=========================

Perhaps the most well-known statement type is the :keyword:`if` statement.  For
example::

   >>> x = int(input("Please enter an integer: "))
   Please enter an integer: 42

There can be zero or more :keyword:`elif` parts, and the :keyword:`else` part is
optional.

.. note::

   An :keyword:`!if` ... :keyword:`!elif` ... sequence is a substitute for the
   ``switch`` or ``case`` statements found in other languages.

.. code-block:: python

   This line is code in a code block, not a sentence of prose at all.
"""

# From PostgreSQL 15's manual (postgresql-doc-15, html/tutorial-concepts.html).
HTML = """<html><body><div class="navheader">Next Up Home</div>
<p><span class="productname">PostgreSQL</span> is a <em class="firstterm">relational database
management system</em> (<acronym class="acronym">RDBMS</acronym>). That means it is a system for
managing data stored in <em class="firstterm">relations</em>.</p>
<pre class="programlisting">SELECT * FROM weather WHERE city = 'San Francisco' AND prcp &gt; 0.0;</pre>
<ul><li><p>Tables are grouped into databases, and a collection of databases managed by a single
<code class="productname">PostgreSQL</code> server instance constitutes a database cluster.</p></li></ul>
</body></html>"""

# From perlintro (perl-doc, pod/perlintro.pod).
POD = """=head1 NAME

perlintro - a brief introduction and overview of Perl

=head1 DESCRIPTION

This document is intended to give you a quick overview of the Perl
programming language, along with pointers to further documentation.

    print "Hello, world";

Perl is a general-purpose programming language originally developed for
text manipulation and now used for a wide range of tasks including B<system
administration>, web development, and more.
"""

# From rmdir(2) (manpages, man2/rmdir.2).
MAN = """.TH rmdir 2 2022-10-30 "Linux man-pages 6.03"
.SH NAME
rmdir \\- delete a directory
.SH DESCRIPTION
.BR rmdir ()
deletes a directory, which must be empty.
.SH EXAMPLES
.EX
int r = rmdir("dir");
.EE
.PP
The directory must not be the current working directory of any process.
"""

# From bash's Debian changelog (bash 5.2-3).
CHANGELOG = """bash (5.2-3) unstable; urgency=medium

  * Apply upstream patches 003 - 015.
  * Repack to get rid of non-source PDF (Bastian Germann). Closes: #1024598.
  * d/copyright: Convert to machine-readable format, adding missing info.
    Closes: #1024602.

 -- Matthias Klose <doko@debian.org>  Mon, 02 Jan 2023 13:06:21 +0100
"""


def test_rst_keeps_prose_and_drops_code_headings_and_comments() -> None:
    texts = list(real_sentences(rst_paragraphs(RST)))
    assert texts == [
        "Perhaps the most well-known statement type is the if statement.",
        "There can be zero or more elif parts, and the else part is optional.",
        "An if ... elif ... sequence is a substitute for the switch or case statements found "
        "in other languages.",
    ]


def test_html_pod_man_and_changelog_prose() -> None:
    html = list(real_sentences(html_paragraphs(HTML)))
    assert html[0] == ("PostgreSQL is a relational database management system (RDBMS).") and html[
        -1
    ].startswith("Tables are grouped into databases")
    assert not any("SELECT" in t or "Next Up" in t for t in html)
    pod = list(real_sentences(pod_paragraphs(POD)))
    assert pod[0].startswith("This document is intended to give you a quick overview of the Perl")
    assert "tasks including system administration, web development" in pod[1]
    assert not any("Hello" in t for t in pod)
    man = list(real_sentences(man_paragraphs(MAN)))
    # the first sentence starts with a lower-case name: documentation sentences need a capital
    assert man == ["The directory must not be the current working directory of any process."]
    assert "rmdir () deletes a directory, which must be empty." in man_paragraphs(MAN)
    changes = list(changelog_entries(CHANGELOG))
    assert changes[2] == (
        "d/copyright: Convert to machine-readable format, adding missing info. Closes: #1024602."
    )
    assert list(real_sentences(changes))[0] == "Apply upstream patches 003 - 015."


def test_fragments_and_wordnet() -> None:
    assert not looks_real("See also.")  # too short
    assert not looks_real("x = foo(bar[0]); y = {a: b}; return z;")  # code
    assert not looks_real("lower case start of a clause.")  # documentation wants a capital
    assert looks_real("lower case gloss of a word here", strict=False)
    line = 'bank, depository financial institution: a financial institution; "he cashed a check at the bank"'
    assert list(wordnet_sentences(line)) == [
        "bank: a financial institution",
        "he cashed a check at the bank",
    ]


def _wiki(_: Path | None) -> object:
    return wiki_paragraphs(
        gensim_test_file("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    )


def test_assemble_a_small_real_slice(tmp_path: Path) -> None:
    test_sentence = sts_benchmark("test")[0][0]
    assert " ".join(test_sentence.split()).lower() in benchmark_sentences()
    lee = SentenceSource(
        "lee", None, lambda _: lee_documents(gensim_test_file("lee_background.cor"))
    )
    planted = SentenceSource("planted", None, lambda _: [test_sentence, test_sentence.upper()])
    sources = (planted, SentenceSource("wiki", None, _wiki), lee)
    out = tmp_path / "s.txt"
    counts = assemble(out, tmp_path, target=1500, sources=sources)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert counts == {"planted": 0, "wiki": 1500} and len(lines) == len(set(lines)) == 1500
    assert all(len(t.split()) >= 4 for t in lines)
    assert not set(map(str.lower, lines)) & benchmark_sentences()
    more = assemble(tmp_path / "more.txt", tmp_path, target=30_000, sources=sources)
    assert more["wiki"] > 15_000 and more["lee"] > 1000
    bigger = (tmp_path / "more.txt").read_text(encoding="utf-8").splitlines()
    assert bigger[:1500] == lines  # a fixed order: a smaller run is a prefix of a larger one


def test_sources_are_fixed_and_named() -> None:
    names = [s.name for s in SOURCES]
    assert names[:4] == ["gcide", "wordnet", "wiki", "lee"] and len(set(names)) == len(names)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_prepare_with_a_deb_folder(tmp_path: Path) -> None:
    root = tmp_path / "fortunes-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: fortunes\nVersion: 0.0-test\nArchitecture: all\n"
        "Maintainer: embedlab tests <tests@example.invalid>\nDescription: test fixture\n"
    )
    games = root / "usr/share/games/fortunes"
    games.mkdir(parents=True)
    lee = list(lee_documents(gensim_test_file("lee_background.cor")))[:12]
    (games / "lee").write_text("\n%\n".join(lee) + "\n", encoding="utf-8")
    debs = tmp_path / "debs"
    debs.mkdir()
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(debs / "fortunes_0_all.deb")],
        check=True,
        capture_output=True,
    )
    fortunes = next(s for s in SOURCES if s.name == "fortunes")
    counts = assemble(
        tmp_path / "f.txt",
        tmp_path / "work",
        target=50,
        sources=(fortunes,),
        debs={"fortunes": debs / "fortunes_0_all.deb"},
    )
    assert counts == {"fortunes": 50}
    assert not (tmp_path / "work" / "fortunes").exists()  # the unpacked package is removed
    with pytest.raises(InputError, match="no folder at"):
        prepare_sentences(tmp_path, debs=tmp_path / "missing")

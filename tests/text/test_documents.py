"""Damaged PDFs: pypdf's warnings never reach the terminal; one clear error line, or the text
when pypdf could recover."""

from __future__ import annotations

import io
import re
import warnings

import pytest

from cli_helpers import run_cli
from embedlab.errors import DataFormatError
from embedlab.text.documents import extract_text


def _pdf_with_text(text: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.text(0.1, 0.5, text)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf")
    plt.close(fig)
    return buffer.getvalue()


def _shift_xref(data: bytes) -> bytes:
    """Every offset in the cross-reference table made wrong (pypdf warns, then rebuilds it)."""
    head, xref, tail = data.rpartition(b"\nxref\n")
    return head + xref + re.sub(rb"(?m)^(\d{10}) (\d{5}) n", lambda m: b"0000000099 00000 n", tail)


def _damaged_pdf() -> bytes:
    """Wrong offsets and a page tree that is not one: pypdf warns, then cannot read it."""
    return _shift_xref(_pdf_with_text("Nothing to read here.").replace(b"/Pages", b"/Pagez"))


def test_a_damaged_pdf_is_one_error_and_prints_nothing(tmp_path, capfd):
    path = tmp_path / "bad.pdf"
    path.write_bytes(_damaged_pdf())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning let through would fail here
        with pytest.raises(DataFormatError, match=r"bad\.pdf is not a readable PDF \(.+\)"):
            extract_text(path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_pdf_pypdf_can_recover_is_read_quietly(tmp_path, capfd):
    path = tmp_path / "shifted.pdf"
    path.write_bytes(_shift_xref(_pdf_with_text("The rover drilled into Martian rock.")))
    assert "rover drilled into Martian rock" in extract_text(path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_index_of_a_damaged_pdf_is_one_error_line(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bad.pdf").write_bytes(_damaged_pdf())
    collection = tmp_path / "col"
    result = run_cli("index", docs, "-c", collection, "-m", "static-minilm")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith("indexing documents")]  # the bar
    assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    assert "bad.pdf is not a readable PDF" in errors[0]
    assert not collection.exists()

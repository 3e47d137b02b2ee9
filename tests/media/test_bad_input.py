"""Bad media input gets one clear line: what is wrong with which item, and what to pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.errors import EmbedlabError, InputError
from embedlab.eval.media import SENTENCES, VOICES, synthesise_speech
from embedlab.media.errors import MediaFormatError, MediaTooLongError, WrongInputKindError
from embedlab.store import create_collection

pytest.importorskip("soundfile")
pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ((path, _),) = synthesise_speech(tmp_path_factory.mktemp("speech"), VOICES[:1], SENTENCES[:1])
    return path


def _one_line(exc: pytest.ExceptionInfo[EmbedlabError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and exc.value.hint
    return text


@pytest.mark.parametrize("method", ["voice", "mfcc"])
def test_a_text_passed_to_an_audio_model(method: str) -> None:
    with pytest.raises(WrongInputKindError) as exc:
        embedlab.load(method).embed("hello, how are you today?")
    text = _one_line(exc)
    assert "takes audio" in text and "not text" in text and "minilm" in text


def test_a_text_file_passed_as_audio(tmp_path: Path) -> None:
    notes = tmp_path / "notes.wav"  # the name does not make it audio
    notes.write_text("a shopping list\nmilk\neggs\n", encoding="utf-8")
    with pytest.raises(MediaFormatError) as exc:
        embedlab.load("voice").embed([str(notes)])
    text = _one_line(exc)
    assert "notes.wav is a text file, not audio" in text and "WAV" in text


def test_an_over_long_clip_is_refused_before_decoding(clip: Path) -> None:
    model = embedlab.load("mfcc", max_seconds=1.0)
    with pytest.raises(MediaTooLongError) as exc:
        model.embed(clip)
    text = _one_line(exc)
    assert "s long, more than the 1 s mfcc takes" in text and "max_seconds" in text
    assert embedlab.load("mfcc", max_seconds=30).embed(clip).shape == (76,)


def test_unreadable_and_broken_images(tmp_path: Path) -> None:
    model = embedlab.load("hog")
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(b"\xff\xd8 this is not really a jpeg")
    with pytest.raises(MediaFormatError) as exc:
        model.embed(str(fake))
    assert "photo.jpg" in _one_line(exc)
    with pytest.raises(MediaFormatError, match="not an image Pillow can read"):
        model.embed(b"GIF89a but nothing else")
    with pytest.raises(MediaFormatError, match="shape"):
        model.embed(np.zeros((4, 4, 7)))
    with pytest.raises(MediaTooLongError, match="pixels"):
        embedlab.load("hog", max_pixels=100).embed(np.zeros((20, 20)))


def test_missing_files_and_wrong_types(tmp_path: Path) -> None:
    model = embedlab.load("voice")
    with pytest.raises(InputError, match="no audio file at"):
        model.embed(str(tmp_path / "missing.wav"))
    with pytest.raises(InputError, match="is a folder"):
        model.embed(str(tmp_path))
    with pytest.raises(InputError, match="no audio inputs"):
        model.embed([])
    with pytest.raises(InputError, match="got dict"):
        model.embed({"a": 1})


def test_a_bad_file_adds_nothing_to_a_collection(clip: Path, tmp_path: Path) -> None:
    from embedlab.media.collection import add_files

    notes = tmp_path / "notes.txt"
    notes.write_text("not audio", encoding="utf-8")
    collection = create_collection(tmp_path / "clips", model="mfcc")
    add_files(collection, [clip])
    with pytest.raises(MediaFormatError):
        add_files(collection, [clip, notes], ids=["a", "b"])
    assert len(collection) == 1
    counts = embedlab.load("count").fit(["a cat sat", "a dog ran"])
    text_collection = create_collection(tmp_path / "texts", model=counts)
    with pytest.raises(InputError, match="cannot embed files"):
        add_files(text_collection, [clip])


def test_embed_command_reads_a_list_of_files(clip: Path, tmp_path: Path) -> None:
    from cli_helpers import assert_one_line_error, invoke_cli

    listing = tmp_path / "clips.txt"
    listing.write_text(f"{clip}\n{clip}\n", encoding="utf-8")
    done = invoke_cli("embed", listing, "--model", "mfcc", "--out", tmp_path / "v.npy")
    assert done.returncode == 0, done.stderr
    vectors = np.load(tmp_path / "v.npy")
    assert vectors.shape == (2, 76) and np.allclose(vectors[0], vectors[1])
    words = tmp_path / "words.txt"
    words.write_text("this is a sentence, not a clip\n", encoding="utf-8")
    failed = invoke_cli(
        "embed", words, "--model", "mfcc", "--out", tmp_path / "w.npy", "--no-progress"
    )
    assert_one_line_error(failed, "mfcc takes audio", "not text")

"""Audio in a collection (speaker search, dedupe, clusters) and over /v1/embeddings (base64)."""

from __future__ import annotations

import base64
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import embedlab
from embedlab.apps.cluster import choose_k
from embedlab.eval.media import SENTENCES, VOICES, synthesise_speech
from embedlab.media.collection import add_files, duplicates, search_by_example
from embedlab.store import create_collection, open_collection

soundfile = pytest.importorskip("soundfile")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    return synthesise_speech(tmp_path_factory.mktemp("speech"), VOICES[:3], SENTENCES[:3])


@pytest.fixture(scope="module")
def voice() -> embedlab.Embedder:
    return embedlab.load("voice", threads=1)


def test_a_speaker_search_finds_the_right_voice(voice, clips, tmp_path: Path) -> None:
    stored = [(p, v) for p, v in clips if not p.name.startswith("2")]  # sentences 0 and 1
    queries = [(p, v) for p, v in clips if p.name.startswith("2")]  # sentence 2, unseen
    copy = tmp_path / "copy.wav"
    shutil.copy(stored[0][0], copy)
    collection = create_collection(tmp_path / "voices", model=voice)
    add_files(collection, [p for p, _ in stored], metadatas=[{"speaker": v} for _, v in stored])
    add_files(collection, [copy], metadatas=[{"speaker": stored[0][1]}])
    assert len(collection) == 7
    for path, speaker in queries:
        hits = collection.search(str(path), k=2)  # an example clip, as a path
        assert [h.metadata["speaker"] for h in hits] == [speaker, speaker]
        assert hits[0].metadata["kind"] == "audio" and hits[0].metadata["seconds"] > 1
        assert Path(hits[0].text).is_file()  # the text is where the file is
        assert search_by_example(collection, path.read_bytes(), k=1)[0].id == hits[0].id
    pairs = duplicates(collection, threshold=0.999)
    assert [(Path(a).name, Path(b).name) for a, b, _ in pairs] == [("0.wav", "copy.wav")]
    collection.close()
    # reopened, it embeds new queries with the recorded model
    again = open_collection(tmp_path / "voices")
    hit = again.search(str(queries[1][0]), k=1)[0]
    assert hit.metadata["speaker"] == queries[1][1]
    vectors = np.stack([r.vector for r in again.iter(include=("vector",))])
    k, _ = choose_k(vectors, range(2, 5))
    assert k == 3  # three voices, three clusters
    again.close()


def _serve(app) -> Iterator[str]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def server(voice) -> Iterator[str]:
    pytest.importorskip("fastapi")
    from embedlab.server.config import ServerConfig
    from embedlab.server.core.served import serve_embedder
    from embedlab.server.http.app import create_app

    models = {"voice": serve_embedder("voice", voice)}
    app = create_app(ServerConfig(models=["voice"]), models=models)
    yield from _serve(app)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_the_server_embeds_base64_audio(server: str, voice, clips, tmp_path: Path) -> None:
    import httpx

    path = clips[0][0]
    body = {"model": "voice", "input": [{"type": "audio", "data": _b64(path.read_bytes())}]}
    answer = httpx.post(f"{server}/v1/embeddings", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    vector = np.asarray(answer.json()["data"][0]["embedding"], dtype=np.float32)
    assert np.allclose(vector, voice.embed(str(path)), atol=1e-5)
    assert answer.json()["usage"]["prompt_tokens"] == 0

    long_clip = tmp_path / "long.wav"
    soundfile.write(long_clip, np.zeros(16_000 * 61, dtype=np.float32), 16_000)
    refusals = {
        "over-long": ([{"type": "audio", "data": _b64(long_clip.read_bytes())}], "60 s"),
        "text to audio": (["/etc/hostname"], "takes audio"),  # never opened as a path
        "image to audio": ([{"type": "image", "data": _b64(b"\x89PNG")}], "takes audio"),
        "not base64": ([{"type": "audio", "data": "%%%"}], "not valid base64"),
        "not audio": ([{"type": "audio", "data": _b64(b"plain words")}], "not audio"),
    }
    for case, (items, words) in refusals.items():
        answer = httpx.post(
            f"{server}/v1/embeddings", json={"model": "voice", "input": items}, timeout=60
        )
        assert answer.status_code == 400, (case, answer.text)
        assert words in answer.json()["error"]["message"], (case, answer.text)


def test_the_staged_path_takes_bytes_never_paths(voice, clips) -> None:
    from embedlab.media.errors import WrongInputKindError

    data = clips[0][0].read_bytes()
    staged = voice.finish(voice.run(voice.prepare([data, data]), batch_size=1))
    assert np.allclose(staged, voice.embed([data, data]), atol=1e-6)
    # jobs and collections on a server embed through prepare: a client's string opens no file
    with pytest.raises(WrongInputKindError, match="not text or file paths"):
        voice.prepare([str(clips[0][0])])


def test_the_model_list_says_what_a_model_takes(server: str) -> None:
    import httpx

    listed = httpx.get(f"{server}/v1/models/voice", timeout=30).json()
    assert listed["input_kind"] == "audio" and listed["dimensions"] == 256

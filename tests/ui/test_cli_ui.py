"""`embedlab ui FOLDER`: a local server with the collection's own model and the page on it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import httpx

import embedlab
from embedlab.store import create_collection

TEXTS = [
    "The cat sat on the mat.",
    "A dog barked at the mailman.",
    "Stocks fell sharply on Monday.",
    "The central bank raised interest rates.",
    "Kittens like to play with yarn.",
    "Investors worry about inflation.",
]
READY = re.compile(r"embedlab ui ready at (http://127\.0\.0\.1:(\d+)/ui#search\?c=docs)")


def test_embedlab_ui_serves_the_page_for_a_collection_folder(tmp_path):
    model = tmp_path / "tfidf"
    embedlab.load("tfidf").fit(TEXTS).save(model)
    with create_collection(tmp_path / "docs", model=model) as docs:
        docs.add(TEXTS, metadatas=[{"n": i} for i in range(len(TEXTS))])
    env = {**os.environ, "EMBEDLAB_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "embedlab.cli.main", "ui", str(tmp_path / "docs")]
        + ["--model", str(model), "--no-open"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if READY.search(line):
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(120), "".join(lines)
        match = next(m for m in map(READY.search, lines) if m)
        base = match.group(1).split("/ui")[0]
        with httpx.Client(base_url=base, timeout=60) as http:
            page = http.get("/ui")
            assert page.status_code == 200 and "embedlab" in page.text
            info = http.get("/v1/ui/info").json()
            assert info["collections"] == ["docs"]
            hits = http.post(
                "/v1/collections/docs/search", json={"query": "interest rates", "k": 1}
            ).json()
            assert hits["data"][0]["text"] == "The central bank raised interest rates."
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert (tmp_path / "docs" / "collection.json").is_file()  # the collection is left as it was

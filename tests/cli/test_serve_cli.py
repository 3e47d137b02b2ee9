"""`embedlab serve` refuses a model that is not there with one line, before it says it loads."""

from __future__ import annotations

import pytest

import embedlab
from cli_helpers import assert_one_line_error, run_cli
from embedlab.cli.serve import check_model_names
from embedlab.errors import UnknownModelError


@pytest.mark.parametrize(
    ("models", "fragment"),
    [
        ("nosuchmodel", "unknown model 'nosuchmodel'"),
        ("tfidf,minlm", "Did you mean 'minilm'"),
        ("fast=./missing-model", "no model folder at ./missing-model"),
    ],
)
def test_an_unknown_model_is_one_line_before_any_loading(tmp_path, models, fragment):
    result = run_cli("serve", "--models", models, "--port", "0", env={"HF_HUB_OFFLINE": "1"})
    assert_one_line_error(result, fragment)
    assert "loading" not in result.stderr


def test_an_unknown_model_in_the_config_file_too(tmp_path):
    config = tmp_path / "serve.toml"
    config.write_text('models = ["glove-50d", "nosuchmodel"]\nport = 0\n', encoding="utf-8")
    result = run_cli("serve", "--config", config, env={"HF_HUB_OFFLINE": "1"})
    assert_one_line_error(result, "unknown model 'nosuchmodel'")
    assert "loading" not in result.stderr


def test_what_can_load_passes_the_check(tmp_path):
    embedlab.load("tfidf").fit(["a cat", "a dog"]).save(tmp_path / "mine")
    check_model_names(
        [
            "minilm",
            "static-minilm",
            "tfidf",
            "transformer:minilm",
            "train:glove",
            f"mine={tmp_path / 'mine'}",
            "vectors.vec",  # a word-vector file: loading says if it is missing
        ]
    )
    with pytest.raises(UnknownModelError, match="no model folder"):
        check_model_names([f"x={tmp_path / 'gone'}"])

"""The core install (`pip install embedlab`, no extras) works, and a missing extra is one line.

A real virtual environment without extras takes minutes to build, so the child processes here
run on a *core site* instead: a folder of links to exactly the installed distributions that the
core needs (embedlab's requirements without extras, followed transitively), with the venv's own
site-packages left off the path (``python -S``). What an extra brings (torch, fastapi, psycopg,
gensim, ...) is then as absent as in a core-only venv: importing it fails and
``importlib.util.find_spec`` finds nothing.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cli_helpers import assert_one_line_error
from embedlab import catalogue
from embedlab.errors import EmbedlabError
from embedlab.extras import EXTRA_PACKAGES, MissingExtraError, distribution, require
from embedlab.server.http.errors import from_library_error

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# What only an extra brings: none of it may be importable on the core site.
EXTRA_ONLY = ("torch", "transformers", "onnxruntime", "fastapi", "uvicorn", "psycopg", "gensim")


# -- the core site ------------------------------------------------------------------------------
def closure(requirements: list[str]) -> set[str]:
    """Canonical names of the installed distributions ``requirements`` pull in, transitively
    (markers evaluated, extras followed where a requirement asks for them)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(req.name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            sub = Requirement(line)
            wanted = {"", *req.extras}
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(sub)
    return {name for name, _ in seen}


def core_distributions() -> set[str]:
    return closure(PYPROJECT["project"]["dependencies"])


def extra_requirements(extra: str) -> list[str]:
    """The requirements of ``extra``, self-references (``embedlab[models]``) expanded."""
    out = []
    for line in PYPROJECT["project"]["optional-dependencies"][extra]:
        req = Requirement(line)
        if canonicalize_name(req.name) == "embedlab":
            for inner in sorted(req.extras):
                out += extra_requirements(inner)
        else:
            out.append(line)
    return out


@pytest.fixture(scope="module")
def core_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for ``python -S`` children that see only the core's distributions."""
    site = tmp_path_factory.mktemp("core-site")
    for name in core_distributions():
        dist = metadata.distribution(name)
        base = Path(str(dist.locate_file("")))
        for top in {f.parts[0] for f in dist.files or []}:
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue  # scripts outside site-packages; .pth files need the site module
            if (base / top).exists() and not (site / top).exists():
                (site / top).symlink_to(base / top)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=f"{SRC}{os.pathsep}{site}", HF_HUB_OFFLINE="1", PYTHONNOUSERSITE="1")
    return env


def run_core(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-S", *args], capture_output=True, text=True, timeout=300, env=env
    )


def run_core_json(env: dict[str, str], script: str) -> dict:
    result = run_core(env, "-c", textwrap.dedent(script))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- tests --------------------------------------------------------------------------------------
def test_the_core_leaves_the_heavy_parts_to_extras():
    core = core_distributions()
    assert {"numpy", "scikit-learn", "typer", "faiss-cpu"} <= core
    for heavy in ("torch", "transformers", "fastapi", "psycopg", "gensim", "onnxruntime"):
        assert heavy not in core, f"{heavy} is pulled in by the core dependencies"
    everything = closure(extra_requirements("all"))
    for heavy in ("torch", "transformers", "fastapi", "psycopg", "gensim", "onnxruntime"):
        assert heavy in everything, f"no extra brings {heavy}"


def test_core_site_really_lacks_the_extras(core_env):
    found = run_core_json(
        core_env,
        f"""
        import importlib.util, json
        print(json.dumps({{m: importlib.util.find_spec(m) is not None for m in {EXTRA_ONLY!r}}}))
        """,
    )
    assert found == dict.fromkeys(EXTRA_ONLY, False)


def test_core_install_embeds_stores_and_searches(core_env, tmp_path, sample_texts):
    result = run_core_json(
        core_env,
        f"""
        import json, sys
        import embedlab

        texts = {sample_texts[:20]!r}
        model = embedlab.load("tfidf").fit(texts)
        vectors = model.embed(texts[:3])
        collection = embedlab.create_collection({str(tmp_path / "docs")!r}, model=model)
        collection.add(texts, ids=[f"t{{i}}" for i in range(len(texts))])
        hits = collection.search(texts[7], k=2)
        collection.close()
        heavy = sorted(m for m in {EXTRA_ONLY!r} if m in sys.modules)
        print(json.dumps({{"shape": vectors.shape, "top": hits[0].id, "heavy": heavy}}))
        """,
    )
    rows, dim = result.pop("shape")
    assert rows == 3 and dim > 10  # one TF-IDF column per vocabulary word
    assert result == {"top": "t7", "heavy": []}


def test_every_module_outside_the_extra_packages_imports_on_the_core(core_env):
    modules = sorted(
        ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for p in (SRC / "embedlab").rglob("*.py")
    )
    core = [m for m in modules if not any(m == p or m.startswith(p + ".") for p in EXTRA_PACKAGES)]
    failed = run_core_json(
        core_env,
        f"""
        import importlib, json
        failed = {{}}
        for name in {core!r}:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed[name] = repr(exc)
        print(json.dumps(failed))
        """,
    )
    assert failed == {}


def test_asking_for_a_transformer_or_the_server_names_the_extra(core_env):
    folder = str(catalogue.minilm_path())  # a real model: only torch and transformers are missing
    errors = run_core_json(
        core_env,
        f"""
        import importlib, json
        import embedlab

        out = {{}}
        for name, call in (
            ("folder", lambda: embedlab.load("transformer", model={folder!r}).embed(["hi"])),
            ("catalogue", lambda: embedlab.load("minilm")),
            ("server", lambda: importlib.import_module("embedlab.server").create_app),
        ):
            try:
                call()
                out[name] = None
            except embedlab.EmbedlabError as exc:
                out[name] = [type(exc).__name__, str(exc)]
        print(json.dumps(out))
        """,
    )
    kind, message = errors["folder"]
    assert kind == "MissingExtraError"
    assert message == (
        "the transformer models feature needs the torch package. "
        "Install it with: pip install 'embedlab[transformers]'"
    )
    assert errors["server"] == [
        "MissingExtraError",
        "the HTTP server feature needs the fastapi package. "
        "Install it with: pip install 'embedlab[server]'",
    ]
    kind, message = errors["catalogue"]
    assert "\n" not in message and "pip install 'embedlab[transformers]'" in message, message


def test_cli_starts_and_embeds_without_extras_and_serve_names_the_extra(core_env, tmp_path):
    help_text = run_core(core_env, "-m", "embedlab.cli.main", "--help")
    assert help_text.returncode == 0, help_text.stderr
    assert "serve" in help_text.stdout and "embed" in help_text.stdout

    texts = tmp_path / "in.txt"
    texts.write_text("cats purr\ndogs bark\nbanks lend money\n", encoding="utf-8")
    out = tmp_path / "out.npy"
    cli = ("-m", "embedlab.cli.main")
    embedded = run_core(core_env, *cli, "embed", str(texts), "--model", "tfidf", "--out", str(out))
    assert embedded.returncode == 0, embedded.stderr
    assert out.is_file()

    serve = run_core(core_env, *cli, "serve", "--port", "0")
    assert_one_line_error(serve, "needs the fastapi package", "pip install 'embedlab[server]'")


def test_require_returns_the_module_or_one_line_naming_the_extra():
    assert require("json", "server") is json
    with pytest.raises(MissingExtraError) as caught:
        require("embedlab_no_such_package.sub", "postgres")
    error = caught.value
    assert isinstance(error, EmbedlabError) and isinstance(error, ImportError)
    assert str(error) == (
        "the PostgreSQL store feature needs the embedlab-no-such-package package. "
        "Install it with: pip install 'embedlab[postgres]'"
    )
    assert distribution("sklearn.feature_extraction") == "scikit-learn"
    assert distribution("sentence_transformers") == "sentence-transformers"


def test_require_keeps_the_error_of_an_installed_but_broken_package(tmp_path, monkeypatch):
    package = tmp_path / "embedlab_broken_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('libbroken.so: cannot open')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="libbroken") as caught:
        require("embedlab_broken_pkg", "train")
    assert not isinstance(caught.value, MissingExtraError)


def _require_calls() -> list[tuple[str, str, str]]:
    """``require("gensim", "train")`` calls: (file, module, extra)."""
    calls = []
    for path in (SRC / "embedlab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "require"
            ):
                module, extra = node.args[:2]
                if isinstance(module, ast.Constant) and isinstance(extra, ast.Constant):
                    calls.append((str(path.relative_to(SRC)), module.value, extra.value))
    return calls


def _loop_requires() -> list[tuple[str, str, str]]:
    """``for module in ("torch", "transformers"): require(module, "transformers")``."""
    calls = []
    for path in (SRC / "embedlab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple)):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id == "require"
                    and isinstance(inner.args[1], ast.Constant)
                ):
                    for element in node.iter.elts:
                        assert isinstance(element, ast.Constant)
                        calls.append(
                            (str(path.relative_to(SRC)), element.value, inner.args[1].value)
                        )
    return calls


def test_every_require_names_an_extra_that_brings_the_module():
    calls = _require_calls() + _loop_requires()
    assert len(calls) >= 10  # the call sites exist (a refactor that drops them shows here)
    extras = PYPROJECT["project"]["optional-dependencies"]
    for where, module, extra in calls:
        assert extra in extras, f"{where}: no extra [{extra}] in pyproject.toml"
        brought = {canonicalize_name(Requirement(r).name) for r in extra_requirements(extra)}
        assert canonicalize_name(distribution(module)) in brought, (
            f"{where}: require({module!r}, {extra!r}) but [{extra}] does not list "
            f"{distribution(module)}"
        )


def test_the_server_answers_a_missing_extra_as_unavailable_not_as_the_callers_fault():
    error = from_library_error(MissingExtraError("transformer models", "torch", "transformers"))
    assert (error.status, error.code) == (503, "model_unavailable")
    assert "pip install 'embedlab[transformers]'" in error.message

"""The package's shape: one-way imports, modules that stand alone, a light ``import embedlab``.

(a) a static check of the ``import`` statements under src/embedlab: no cycle among modules and
no function-local import of an embedlab module, except of the packages that need an extra at
import time (``embedlab.extras.EXTRA_PACKAGES``: code outside them imports them on use);
(b) every module imports in a fresh interpreter (a bare one forked per module), so none works
only because another was imported first; (c) ``import embedlab`` loads no heavy library and
changes no environment variable.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from embedlab.extras import EXTRA_PACKAGES

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = (
    "torch",
    "transformers",
    "onnxruntime",
    "faiss",
    "psycopg",
    "fastapi",
    "gensim",
    "ray",
    "sklearn",
    "scipy",
    "pyarrow",
)


def module_files() -> dict[str, Path]:
    files = {}
    for path in sorted((SRC / "embedlab").rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        files[name.removesuffix(".__init__")] = path
    return files


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def extra_of(module: str) -> str | None:
    """The extra that ``module`` needs at import time (it is in one of EXTRA_PACKAGES), if any."""
    for package, extra in EXTRA_PACKAGES.items():
        if in_package(module, package):
            return extra
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(embedlab module imported, line, inside a function?) for each import in ``path``;
    ``if TYPE_CHECKING:`` blocks are skipped (they never run)."""
    found: list[tuple[str, int, bool]] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True)
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    parts = package.split(".")
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else base)
            for target in targets:
                if in_package(target, "embedlab") and target in modules:
                    found.append((target, child.lineno, in_function))
            visit(child, in_function)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    """Top-level import edges between embedlab modules, and the function-local imports that
    break the rule (file:line -> target)."""
    modules = module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    local = []
    for name, path in modules.items():
        for target, line, in_function in imports_of(name, path, modules):
            if not in_function:
                if target != name:
                    graph[name].add(target)
                continue
            if extra_of(target) in (None, extra_of(name)):  # no extra needed, or the same one
                local.append(f"{path.relative_to(SRC)}:{line} imports {target} inside a function")
    return graph, local


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


# -- (a) one-way imports ------------------------------------------------------------------------
def test_the_checker_sees_cycles_and_local_imports(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    path = tmp_path / "m.py"
    path.write_text(
        "from embedlab import errors\n"
        "def f():\n    from embedlab.errors import EmbedlabError\n"
        "if TYPE_CHECKING:\n    import embedlab.x\n"
    )
    modules = {"embedlab": path, "embedlab.errors": path, "embedlab.x": path, "embedlab.m": path}
    assert imports_of("embedlab.m", path, modules) == [
        ("embedlab.errors", 1, False),
        ("embedlab.errors", 3, True),
    ]


def test_imports_flow_one_way_with_no_function_local_embedlab_imports():
    graph, local = import_graph()
    assert len(graph) > 50  # the walk found the package
    assert cycles(graph) == []
    assert local == []


def test_extra_packages_are_imported_at_top_level_only_from_inside():
    """A top-level import of ``embedlab.server`` elsewhere would make that module need FastAPI."""
    graph, _ = import_graph()
    leaks = [
        f"{name} imports {target}, which needs [{extra_of(target)}]"
        for name, targets in graph.items()
        for target in targets
        if extra_of(target) not in (None, extra_of(name))
    ]
    assert leaks == []


# -- (b) every module stands alone --------------------------------------------------------------
def test_every_module_imports_in_a_fresh_interpreter():
    modules = sorted(module_files())
    script = textwrap.dedent(
        f"""
        import importlib, json, os, sys, traceback
        import numpy  # third-party only: no embedlab module is loaded before the fork
        assert not any(m.startswith("embedlab") for m in sys.modules)
        failed = {{}}
        for name in {modules!r}:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read)
                try:
                    importlib.import_module(name)
                    message = b""
                except BaseException:
                    message = traceback.format_exc(limit=-3).encode()
                os.write(write, message[-4000:])
                os._exit(0)
            os.close(write)
            with os.fdopen(read, "rb") as pipe:
                message = pipe.read()
            os.waitpid(pid, 0)
            if message:
                failed[name] = message.decode()
        print(json.dumps({{"checked": len({modules!r}), "failed": failed}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["checked"] == len(modules) > 50
    assert report["failed"] == {}, "\n".join(report["failed"].values())


# -- (c) import embedlab is light ---------------------------------------------------------------
def test_import_embedlab_loads_no_heavy_library_and_leaves_the_environment():
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import json, os; before = dict(os.environ); import embedlab; "
            "print(json.dumps(sorted(k for k in {*before, *os.environ} "
            "if before.get(k) != os.environ.get(k))))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    ]
    assert "embedlab" in imported  # the report was read
    roots = {name.partition(".")[0] for name in imported}
    assert sorted(roots & set(HEAVY)) == []


def test_the_cli_starts_without_a_heavy_library():
    """``embedlab --help`` imports every command module: none may pull in torch or the server."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "embedlab.cli.main", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    roots = {
        line.rsplit("|", 1)[1].strip().partition(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "typer" in roots
    assert sorted(roots & {"torch", "transformers", "onnxruntime", "fastapi", "psycopg"}) == []

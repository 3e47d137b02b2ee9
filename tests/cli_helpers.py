"""Running the real `embedlab` CLI in a child process, and checking its one-line errors.

A plain module (pytest's ``pythonpath`` puts ``tests/`` on the path), because with
``--import-mode=importlib`` test modules cannot import each other or conftest.
"""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(
    *args: object, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """``python -m embedlab.cli.main ARGS`` with ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "embedlab.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit status 2, no traceback, one ``error: ...`` message holding every fragment."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = " ".join(line for line in result.stderr.strip().splitlines() if line.strip())
    assert message.startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in message, message


def invoke_cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``embedlab ARGS`` run in this process (fast; no interpreter start) inside typer's
    CliRunner isolation, through the same entry point as the real command (one-line errors
    included); returns a ``CompletedProcess`` like :func:`run_cli`. An exception that escapes
    the CLI is raised here, traceback and all."""
    from typer.testing import CliRunner

    from embedlab.cli.main import app
    from embedlab.cli.report import run_app

    argv = [str(a) for a in args]
    with CliRunner().isolation(env=env) as (stdout, stderr, _):
        code = run_app(app, argv)
        sys.stdout.flush()
        sys.stderr.flush()
        out, err = stdout.getvalue(), stderr.getvalue()
    return subprocess.CompletedProcess(
        ["embedlab", *argv], code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    )

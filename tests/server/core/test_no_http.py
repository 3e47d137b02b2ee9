"""The server core knows no HTTP: importing it loads no web framework."""

from __future__ import annotations

import subprocess
import sys


def test_the_core_imports_no_web_framework():
    script = (
        "import sys\n"
        "import embedlab.server.core.batcher, embedlab.server.core.collections\n"
        "import embedlab.server.core.jobs, embedlab.server.core.proxy, embedlab.server.core.served\n"
        "import embedlab.server.config\n"
        "web = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'uvicorn', 'pydantic'))\n"
        "print(','.join(web))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", done.stdout

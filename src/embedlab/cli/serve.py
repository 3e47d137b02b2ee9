"""`embedlab serve`: the OpenAI-compatible embeddings server (FastAPI on uvicorn).

Settings come from defaults, then ``--config FILE.toml``, then the flags given here. The server
package (FastAPI, uvicorn: the ``[server]`` extra) is imported only when the command runs, so the
rest of the CLI starts quickly and works without that extra: ``embedlab.server.http`` and
``.core`` are the embedlab packages imported inside functions (``EXTRA_PACKAGES`` in
embedlab.extras; tests/test_structure.py allows exactly those).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from embedlab import catalogue
from embedlab.embedders.methods import METHODS, methods, suggestion
from embedlab.errors import UnknownModelError
from embedlab.extras import require
from embedlab.server.config import ENV_CONFIG, ServerConfig, split_list

DEMO_COLLECTION = "demo"
SWITCH_INTERVAL_S = float(os.environ.get("EMBEDLAB_SWITCH_INTERVAL", "0.0005"))


def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8000,
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            "-m",
            help="Comma-separated models to serve: names, methods, saved folders, or ID=SPEC "
            "(e.g. 'minilm,glove-50d,mytfidf=models/tfidf'). Default: minilm.",
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes (each loads the models).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file of settings (see README).")
    ] = None,
    api_keys_file: Annotated[
        Path | None,
        typer.Option(
            help="File of API keys, one a line; also $EMBEDLAB_API_KEYS (comma-separated)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder whose files batch jobs may read by path.")
    ] = None,
    jobs_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where jobs keep their state and outputs. Default: $EMBEDLAB_HOME/server/jobs."
        ),
    ] = None,
    collections: Annotated[
        str | None,
        typer.Option(
            help="Folder of collections, or a postgresql:// DSN. Default: $EMBEDLAB_HOME/server/collections."
        ),
    ] = None,
    runtime: Annotated[
        str | None, typer.Option(help="Transformer runtime: torch, onnx or onnx-int8.")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Intra-op threads per model.")] = None,
    max_batch_tokens: Annotated[int | None, typer.Option(help="Token budget of one batch.")] = None,
    max_queue: Annotated[
        int | None, typer.Option(help="Inputs that may wait per model before 503s.")
    ] = None,
    max_inputs: Annotated[int | None, typer.Option(help="Inputs per request.")] = None,
    max_input_chars: Annotated[int | None, typer.Option(help="Characters per input.")] = None,
    max_body_bytes: Annotated[int | None, typer.Option(help="Request body size limit.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds a request may take.")] = None,
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests a minute per key or address (0: off).")
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="Also build a demo collection from the bundled sample texts.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve embeddings over HTTP: OpenAI's /v1/embeddings, batch jobs, metrics."""
    for module in ("fastapi", "uvicorn"):
        require(module, "server")

    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "models": split_list(models) if models else None,
        "workers": workers,
        "api_keys_file": str(api_keys_file) if api_keys_file else None,
        "data_dir": str(data_dir) if data_dir else None,
        "jobs_dir": str(jobs_dir) if jobs_dir else None,
        "collections": collections,
        "runtime": runtime,
        "threads": threads,
        "max_batch_tokens": max_batch_tokens,
        "max_queue_inputs": max_queue,
        "max_inputs_per_request": max_inputs,
        "max_chars_per_input": max_input_chars,
        "max_body_bytes": max_body_bytes,
        "request_timeout_s": timeout,
        "rate_limit_per_minute": rate_limit,
        "demo": demo or None,
        "log_level": log_level,
    }
    given = {key: value for key, value in overrides.items() if value is not None}
    settings = ServerConfig.from_file(config, **given) if config else ServerConfig.from_dict(given)
    check_model_names(settings.models)
    run(settings)


def check_model_names(entries: list[str]) -> None:
    """Refuse a model that is surely not there before anything is printed or loaded (loading
    takes seconds, and its ``loading ...`` line would come before the error). What passes is
    still checked fully when loaded."""
    for entry in entries:
        spec = entry.partition("=")[2].strip() if "=" in entry else entry.strip()
        path = Path(spec).expanduser()
        if not spec or path.exists() or path.suffix or catalogue.find(spec) is not None:
            continue  # loading says what is wrong with these (an empty spec, a missing file)
        method = spec.partition(":")[0]
        if method in METHODS or method == "train":
            continue
        if any(sep in spec for sep in ("/", os.sep)) or spec.startswith("."):
            raise UnknownModelError(
                f"no model folder at {spec}",
                "check the path, or pass a catalogue name such as 'minilm' (see `embedlab models`)",
            )
        raise UnknownModelError(
            f"unknown model {spec!r}", suggestion(spec, methods() + catalogue.all_names())
        )


def run(settings: Any) -> None:
    """Load models, start uvicorn, print where the server is; blocks until stopped."""
    import uvicorn

    from embedlab.server.http.app import create_app
    from embedlab.server.http.timeouts import uvicorn_options

    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The compute thread re-takes the GIL after every native call (ONNX run, numpy); with the
    # default 5 ms switch interval it can wait that long each time while the event loop runs
    # Python. A shorter interval keeps the model busy (measured: bench/results/serve.md).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    keys = settings.resolved_api_keys()
    if not keys and settings.host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            f"warning: listening on {settings.host} without API keys; anyone who can reach it can "
            "use it (pass --api-keys-file or set EMBEDLAB_API_KEYS)",
            err=True,
        )
    if settings.workers > 1:
        os.environ[ENV_CONFIG] = settings.to_json()
        host = settings.host if ":" not in settings.host else f"[{settings.host}]"
        typer.echo(f"starting {settings.workers} worker processes ...", err=True)
        _announce(f"http://{host}:{settings.port}", settings)
        uvicorn.run(
            "embedlab.server.http.app:app_from_env",
            factory=True,
            **uvicorn_options(settings),
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
        )
        return

    typer.echo(f"loading {', '.join(settings.models)} ...", err=True)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
        **uvicorn_options(settings),
    )
    _AnnouncingServer(config, settings).run()


def _announce(url: str, settings: Any) -> None:
    model = (
        settings.models[0].partition("=")[0] if "=" in settings.models[0] else settings.models[0]
    )
    key = ' -H "Authorization: Bearer $KEY"' if settings.resolved_api_keys() else ""
    lines = [
        f"embedlab server ready at {url}  (docs: {url}/docs, OpenAI base_url: {url}/v1)",
        "try:",
        f"  curl -s {url}/v1/embeddings{key} -H 'Content-Type: application/json' \\",
        f'    -d \'{{"model": "{model}", "input": ["I love programming."]}}\'',
    ]
    if settings.demo:
        lines += [
            f"  curl -s {url}/v1/collections/{DEMO_COLLECTION}/search{key} "
            "-H 'Content-Type: application/json' \\",
            '    -d \'{"query": "the bank put up the cost of borrowing", "k": 3}\'',
        ]
    typer.echo("\n".join(lines), err=True)


class _AnnouncingServer:
    """uvicorn's Server, printing the real URL (port 0 becomes the port it got) once listening."""

    def __init__(self, config: Any, settings: Any) -> None:
        import uvicorn

        outer = self

        class Server(uvicorn.Server):
            async def startup(self, sockets: Any = None) -> None:
                await super().startup(sockets=sockets)
                if self.should_exit:
                    return
                port = settings.port
                for server in self.servers:
                    for sock in server.sockets:
                        port = sock.getsockname()[1]
                host = settings.host if ":" not in settings.host else f"[{settings.host}]"
                outer.url = f"http://{host}:{port}"
                _announce(outer.url, settings)

        self.server = Server(config)
        self.url: str | None = None

    def run(self) -> None:
        self.server.run()

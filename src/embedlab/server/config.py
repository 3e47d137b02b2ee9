"""Server settings: one dataclass, filled from defaults, then a TOML file, then command-line flags.

Every limit has a default that is safe to expose on a network (bounded queue, body size, inputs
per request), because a server without limits is one large request away from running out of
memory.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlab.errors import InputError
from embedlab.paths import cache_home

COMPUTE_BATCH_SIZE = 32  # rows per model call, unless the config says otherwise

ENV_KEYS = "EMBEDLAB_API_KEYS"
ENV_CONFIG = "EMBEDLAB_SERVER_CONFIG"  # JSON of a ServerConfig, for uvicorn worker processes


@dataclass
class ServerConfig:
    """Everything ``embedlab serve`` can be told; see ``embedlab serve --help`` for each."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    models: list[str] = field(default_factory=lambda: ["minilm"])
    runtime: str | None = None  # transformer runtime ("torch", "onnx", "onnx-int8") if supported
    threads: int | None = None  # intra-op threads per model ($EMBEDLAB_THREADS)
    normalize: bool = True  # OpenAI's vectors are unit length; clients use dot products
    api_keys: list[str] = field(default_factory=list)
    api_keys_file: str | None = None
    data_dir: str | None = None
    jobs_dir: str | None = None
    collections: str | None = None  # a folder of collections, or a postgresql:// DSN
    demo: bool = False
    # limits
    max_inputs_per_request: int = 2048
    max_chars_per_input: int = 20_000
    max_chars_per_request: int = 1_000_000  # all inputs together, checked before tokenising
    max_tokens_per_input: int | None = None  # None: the model's own limit
    max_tokens_in_flight: int = 131_072  # per model: tokenised, queued or computing
    max_body_bytes: int = 8 << 20
    max_upload_bytes: int = 512 << 20
    request_timeout_s: float = 60.0
    header_timeout_s: float = 10.0  # a request's headers must arrive within this
    body_timeout_s: float = 30.0  # and its body within this, from the first byte asked for
    rate_limit_per_minute: int = 0  # per API key (or client address); 0 = off
    auth_failures_per_minute: int = 30  # wrong or missing keys per client address; 0 = off
    # batching
    max_batch_tokens: int = 16_384
    max_batch_inputs: int = 128
    compute_batch_size: int = COMPUTE_BATCH_SIZE
    max_queue_inputs: int = 1024
    job_chunk_rows: int = 1024
    log_level: str = "info"

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse impossible settings with a message naming the setting."""
        positive = (
            "port",
            "workers",
            "max_inputs_per_request",
            "max_chars_per_input",
            "max_chars_per_request",
            "max_tokens_in_flight",
            "max_body_bytes",
            "max_upload_bytes",
            "max_batch_tokens",
            "max_batch_inputs",
            "compute_batch_size",
            "max_queue_inputs",
            "job_chunk_rows",
        )
        for name in positive:
            value = getattr(self, name)
            minimum = 0 if name == "port" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InputError(
                    f"server setting {name} must be a positive whole number, got {value!r}",
                    "fix it in the config file or on the command line",
                )
        if self.port < 0 or self.port > 65535:
            raise InputError(f"port {self.port} is out of range", "use 0-65535 (0: any free port)")
        for name in ("request_timeout_s", "header_timeout_s", "body_timeout_s"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be more than 0", "use e.g. 30")
        if self.auth_failures_per_minute < 0:
            raise InputError("auth_failures_per_minute cannot be negative", "use 0 to turn it off")
        if self.rate_limit_per_minute < 0:
            raise InputError("rate_limit_per_minute cannot be negative", "use 0 to turn it off")
        if self.max_tokens_per_input is not None and self.max_tokens_per_input < 2:
            raise InputError("max_tokens_per_input must be at least 2", "or leave it unset")
        if not self.models:
            raise InputError("no models to serve", "pass --models, e.g. --models minilm")

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **overrides: Any) -> ServerConfig:
        """Read a TOML file (keys as the field names, optionally under ``[server]``)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"no config file at {path}", "check the --config path") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path} is not valid TOML ({exc})", "fix the file") from None
        data = data.get("server", data)
        return cls.from_dict({**data, **overrides}, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "settings") -> ServerConfig:
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(names)}"
                raise InputError(f"unknown server setting {key!r} in {source}", hint)
        if isinstance(data.get("models"), str):
            data = {**data, "models": split_list(data["models"])}
        try:
            return cls(**data)
        except TypeError as exc:
            raise InputError(f"bad server settings in {source} ({exc})", "fix them") from None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        return cls.from_dict(json.loads(text))

    # -- derived -----------------------------------------------------------------------------
    def resolved_jobs_dir(self) -> Path:
        if self.jobs_dir:
            return Path(self.jobs_dir).expanduser()

        return cache_home() / "server" / "jobs"

    def resolved_api_keys(self) -> list[str]:
        """Keys from the config, the keys file (one a line, # comments) and $EMBEDLAB_API_KEYS."""
        keys = list(self.api_keys)
        if self.api_keys_file:
            path = Path(self.api_keys_file).expanduser()
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                raise InputError(f"no API keys file at {path}", "check --api-keys-file") from None
            keys += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        keys += split_list(os.environ.get(ENV_KEYS, ""))
        short = [k for k in keys if len(k) < 8]
        if short:
            raise InputError(
                f"{len(short)} API key(s) are shorter than 8 characters",
                "use long random keys, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
            )
        return keys


def split_list(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]

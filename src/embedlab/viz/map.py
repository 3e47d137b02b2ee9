"""2-D maps of embedding space: PCA (or UMAP when installed), as a PNG and an interactive HTML page.

The HTML page is one self-contained file (inline SVG; each point's text in a native tooltip), so
it opens offline in any browser and needs no JavaScript library.
"""

from __future__ import annotations

import html
import importlib.util
from pathlib import Path

import numpy as np

from embedlab.errors import InputError, OutputError
from embedlab.extras import require

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
)


def project(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project to 2-D with PCA, or UMAP (cosine) when ``method="umap"`` and umap-learn is installed."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) < 3:
        raise InputError(
            f"a map needs at least 3 points, got {len(vectors)}", "pass more texts or words"
        )
    if method == "umap":
        if importlib.util.find_spec("umap") is None:
            raise InputError("UMAP is not installed", "pip install umap-learn, or use --method pca")
        import umap

        return umap.UMAP(n_components=2, metric="cosine", random_state=seed).fit_transform(vectors)
    if method != "pca":
        raise InputError(f"unknown projection {method!r}", "use 'pca' or 'umap'")
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(vectors)


def _colours(labels: list[str] | None, n: int) -> tuple[list[str], dict[str, str]]:
    if labels is None:
        return [PALETTE[0]] * n, {}
    legend = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(dict.fromkeys(labels))}
    return [legend[label] for label in labels], legend


def write_png(
    points: np.ndarray,
    path: Path,
    *,
    labels: list[str] | None = None,
    annotations: list[str] | None = None,
    title: str = "",
) -> Path:
    require("matplotlib", "viz")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours, legend = _colours(labels, len(points))
    fig, ax = plt.subplots(figsize=(8, 6), dpi=120)
    ax.scatter(points[:, 0], points[:, 1], c=colours, s=18, alpha=0.8)
    if annotations is not None and len(points) <= 300:
        for (x, y), text in zip(points, annotations, strict=True):
            ax.annotate(
                text[:30], (x, y), fontsize=7, alpha=0.8, xytext=(3, 2), textcoords="offset points"
            )
    for label, colour in legend.items():
        ax.scatter([], [], c=colour, label=label)
    if legend:
        ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_html(
    points: np.ndarray,
    texts: list[str],
    path: Path,
    *,
    labels: list[str] | None = None,
    title: str = "embedlab map",
) -> Path:
    width, height, pad = 900, 650, 30
    lo, hi = points.min(axis=0), points.max(axis=0)
    scale = np.where(hi - lo == 0, 1, hi - lo)
    xy = (points - lo) / scale
    colours, legend = _colours(labels, len(points))
    circles = []
    for i, ((x, y), text, colour) in enumerate(zip(xy, texts, colours, strict=True)):
        tip = html.escape(text if labels is None else f"[{labels[i]}] {text}")
        cx, cy = pad + x * (width - 2 * pad), height - pad - y * (height - 2 * pad)
        circles.append(
            f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}" data-index="{i}">'
            f"<title>{tip}</title></circle>"
        )
    keys = "".join(
        f'<li><span style="background:{c}"></span>{html.escape(k)}</li>' for k, c in legend.items()
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1em}} circle{{opacity:.8}} circle:hover{{stroke:#000;opacity:1}}
ul{{list-style:none;padding:0}} li span{{display:inline-block;width:10px;height:10px;margin-right:6px}}</style>
</head><body><h1>{html.escape(title)}</h1><p>{len(points)} points; hover a point to read its text.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" style="border:1px solid #ccc">
{"".join(circles)}
</svg><ul>{keys}</ul></body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def write_map(
    points: np.ndarray,
    texts: list[str],
    out: str | Path,
    *,
    labels: list[str] | None = None,
    title: str = "embedlab map",
) -> Path:
    """Write ``out`` as .png or .html, picked by its extension."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".png":
        return write_png(
            points, out, labels=labels, annotations=texts if len(texts) <= 80 else None, title=title
        )
    if suffix in (".html", ".htm"):
        return write_html(points, texts, out, labels=labels, title=title)
    raise OutputError(f"cannot write a map to {out}", "name the output .png or .html")

"""The `embedlab` app: command registration and the one place errors become one clear line."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from embedlab.cli import apps, collection, compare, embed, evaluate, models, serve, tokenize, tour
from embedlab.cli import context as context_cli
from embedlab.cli import data as data_cli
from embedlab.cli import graph as graph_cli
from embedlab.cli import train as train_cli
from embedlab.cli import train_gpt as train_gpt_cli
from embedlab.cli import words as words_cli
from embedlab.errors import EmbedlabError

app = typer.Typer(
    help="embedlab: turn text into vectors with every major approach, and see how.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command("embed")(embed.embed_command)
app.command("similarity")(embed.similarity_command)
app.command("tokenize")(tokenize.tokenize_command)
app.command("tour")(tour.tour_command)
app.command("eval")(evaluate.eval_command)
app.command("compare")(compare.compare_command)
app.add_typer(models.app, name="models")
train_cli.app.command("gpt")(train_gpt_cli.train_gpt_command)
app.add_typer(train_cli.app, name="train")
app.command("context")(context_cli.context_command)
app.add_typer(data_cli.app, name="data")
app.add_typer(graph_cli.app, name="graph")
app.command("neighbors")(words_cli.neighbors_command)
app.command("analogy")(words_cli.analogy_command)
app.add_typer(collection.app, name="collection")
app.command("serve")(serve.serve_command)
app.command("cluster")(apps.cluster_command)
app.add_typer(apps.classify_app, name="classify")
app.command("dedupe")(apps.dedupe_command)
app.command("faq")(apps.faq_command)
app.command("recommend")(apps.recommend_command)
app.command("map")(apps.map_command)
app.command("index")(apps.index_command)
app.command("ask")(apps.ask_command)


def main() -> None:
    """Entry point: run the app; user errors print one line and exit 2, never a traceback."""
    try:
        app()
    except EmbedlabError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted; run the same command again to resume")
        sys.exit(130)


if __name__ == "__main__":
    main()

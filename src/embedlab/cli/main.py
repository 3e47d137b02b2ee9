"""The `embedlab` app: command registration and the one place errors become one clear line."""

from __future__ import annotations

import typer

from embedlab.cli import apps, collection, compare, embed, evaluate, models, serve, tokenize, tour
from embedlab.cli import context as context_cli
from embedlab.cli import data as data_cli
from embedlab.cli import distill as distill_cli
from embedlab.cli import explain as explain_cli
from embedlab.cli import finetune as finetune_cli
from embedlab.cli import graph as graph_cli
from embedlab.cli import info as info_cli
from embedlab.cli import train as train_cli
from embedlab.cli import train_gpt as train_gpt_cli
from embedlab.cli import train_sentence as train_sentence_cli
from embedlab.cli import ui as ui_cli
from embedlab.cli import words as words_cli
from embedlab.cli.report import main_exit

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
app.command("info")(info_cli.info_command)
app.add_typer(models.app, name="models")
train_cli.app.command("gpt")(train_gpt_cli.train_gpt_command)
train_cli.app.command("dan")(train_sentence_cli.train_dan_command)
train_cli.app.command("bilstm")(train_sentence_cli.train_bilstm_command)
train_cli.app.command("static")(train_sentence_cli.train_static_command)
app.command("distill")(distill_cli.distill_command)
app.command("finetune")(finetune_cli.finetune_command)
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
app.command("explain")(explain_cli.explain_command)
app.command("debias")(explain_cli.debias_command)
app.command("trends")(explain_cli.trends_command)
app.command("ui")(ui_cli.ui_command)


def main() -> None:
    """Entry point: run the app; user errors print one line and exit 2, never a traceback."""
    main_exit(app)


if __name__ == "__main__":
    main()

"""Options declared once per Embedder class, and the checks every change of them goes through.

Why: an option used to be listed in the constructor, in the ``super().__init__`` call, in the
registry's load-time list and in a transformer's reload list, and nothing checked they agreed.
Now each class states, for each option, its default, when it may change and how its value is
checked (sentence-transformers' ``config_keys`` in spirit); ``Embedder.__init__``,
``get_params``/``set_params``, saving and ``embedlab.load`` all read that one declaration, and
``tests/embedders/test_options.py`` checks it against every registered constructor.

When an option may change:

- ``FIT``: fixed once the model is fitted (a pretrained model always is): the weights depend on it;
- ``LOAD``: may change on a fitted or loaded model: the same weights, vectors computed differently;
- ``RELOAD``: may change on a loaded model, but the weights (or a runtime session) are loaded
  again on next use (a transformer's ``runtime``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

from embedlab.checks import Check
from embedlab.embedders.methods import method_class, methods
from embedlab.errors import EmbedlabError, InputError

if TYPE_CHECKING:
    from embedlab.embedders.base import Embedder

FIT = "fit"
LOAD = "load"
RELOAD = "reload"
TRAIN_PREFIX = "train:"  # "train:glove": the trainer, even where a catalogue model has the name


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of an option the constructor cannot do without


@dataclass(frozen=True)
class Option:
    """One constructor option of an Embedder class.

    ``check(name, value)`` returns the value to keep (converted, e.g. to int) or raises an
    :class:`InputError`; ``saved=False`` keeps the value out of ``params`` and embedlab.json
    (an API key, live part embedders); ``omit_default`` leaves it out of ``params`` while it has
    its default, so folders saved before the option existed read the same as new ones;
    ``off``, for a fit-time option, is the value that turns what was fitted off, which a fitted
    model may always take (``remove_components=0`` drops the fitted components).
    """

    name: str
    default: Any = REQUIRED
    when: str = FIT
    check: Check | None = None
    saved: bool = True
    omit_default: bool = False
    off: Any = REQUIRED  # REQUIRED: there is no such value

    def __post_init__(self) -> None:
        if self.when not in (FIT, LOAD, RELOAD):
            raise ValueError(f"option {self.name}: when must be fit, load or reload")

    def resolve(self, value: Any) -> Any:
        return value if self.check is None else self.check(self.name, value)


Options = tuple[Option, ...]


def declare(*groups: Option | Iterable[Option]) -> Options:
    """Join options and groups of options; a later one replaces an earlier one of its name
    (a subclass's own default or check)."""
    joined: dict[str, Option] = {}
    for group in groups:
        for option in [group] if isinstance(group, Option) else group:
            joined.pop(option.name, None)
            joined[option.name] = option
    return tuple(joined.values())


def defaults(options: Options, **values: Any) -> Options:
    """``options`` with other defaults (a subclass's own), each named option checked to exist."""
    missing = set(values) - {o.name for o in options}
    if missing:
        raise ValueError(f"no options {sorted(missing)} to give defaults to")
    return tuple(replace(o, default=values[o.name]) if o.name in values else o for o in options)


def without(options: Options, *dropped: str) -> Options:
    """``options`` less those named (a subclass that does not take them)."""
    return tuple(o for o in options if o.name not in dropped)


def names(klass: type[Embedder], *, without: Iterable[str] = ()) -> set[str]:
    """The option names ``klass`` declares."""
    return {o.name for o in klass.options} - set(without)


def changeable(klass: type[Embedder]) -> list[str]:
    """The options a fitted model of ``klass`` may still change."""
    return sorted(o.name for o in klass.options if o.when != FIT)


def initial_values(klass: type[Embedder], given: dict[str, Any]) -> dict[str, Any]:
    """Every declared option's value for a new object: given (checked) or the default."""
    declared = {o.name: o for o in klass.options}
    unknown = sorted(set(given) - set(declared))
    if unknown:  # a constructor passing what it did not declare: a bug in that class
        raise TypeError(f"{klass.__name__} declares no option {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, option in declared.items():
        if name in given:
            values[name] = option.resolve(given[name])
        elif option.default is REQUIRED:
            raise TypeError(f"{klass.__name__} needs the option {name}")
        else:
            values[name] = option.default
    return values


def checked_changes(
    model: Embedder, params: dict[str, Any], *, source: str = "", caller: str = "set_params()"
) -> dict[str, Any]:
    """The values ``params`` would give ``model``, checked; raise before anything changes.

    Unknown names and fit-time options of a fitted model are refused with the list of what can
    change; a value equal to the current one is accepted, as it changes nothing.
    """
    declared = {o.name: o for o in type(model).options}
    current = model.get_params()
    fitted = model.is_fitted
    allowed = changeable(type(model)) if fitted else sorted(declared)
    takes = {k for k, v in params.items() if k in allowed or _turns_off(declared.get(k), v)}
    rest = {k for k, v in params.items() if k not in takes and not _same(current, k, v)}
    fixed = sorted(rest & set(declared))
    where = f"the {model.method} model" + (f" {source}" if source else "")
    if fixed:
        verb, it = ("is", "it") if len(fixed) == 1 else ("are", "them")
        other = (
            f"train a new model: embedlab.load('{TRAIN_PREFIX}{model.method}', ...).fit(corpus)"
            if model.trainable
            else "load another model"
        )
        raise InputError(
            f"{quoted(fixed)} of {where} {verb} fixed when it was fitted, so {caller} cannot "
            f"change {it}",
            (f"{caller} can change {quoted(allowed)}; " if allowed else "")
            + f"for other settings {other}",
        )
    if rest:
        model._unknown_options({k: params[k] for k in rest})
        if fitted and not allowed:
            refuse(where, rest, (), said=f"once fitted it can change none of {quoted(declared)}")
        refuse(where, rest, allowed)
    return {k: declared[k].resolve(v) for k, v in params.items() if k in takes}


def _turns_off(option: Option | None, value: Any) -> bool:
    return option is not None and option.off is not REQUIRED and same(value, option.off)


def _same(current: dict[str, Any], key: str, value: Any) -> bool:
    """Whether option ``key`` already has ``value`` (then giving it again changes nothing)."""
    if key not in current:
        return False
    try:
        return bool(current[key] == value)
    except (TypeError, ValueError):  # e.g. arrays, whose == is element-wise
        return False


def same(a: Any, b: Any) -> bool:
    """``a == b`` for option values, arrays and odd types included (False when unsure)."""
    return _same({"v": a}, "v", b)


# -- messages ------------------------------------------------------------------------------------
def quoted(options: Iterable[str]) -> str:
    return ", ".join(repr(o) for o in sorted(options))


def _owners(options: list[str]) -> str:
    """Which methods take these options, as a hint: " (that is for transformer models)"."""
    owners = set()
    for method in methods():
        try:
            declared = names(method_class(method))
        except (EmbedlabError, ImportError, AttributeError):  # a broken plugin: no hint from it
            continue
        owners |= {method for o in options if o in declared}
    if not owners:
        return ""
    return f" ({'that is' if len(options) == 1 else 'those are'} for {', '.join(sorted(owners))} models)"


def refuse(
    what: str, unknown: Iterable[str], accepted: Iterable[str], extra: str = "", said: str = ""
) -> NoReturn:
    """Raise the error for options ``what`` does not take, listing those it does (or ``said``)."""
    unknown = sorted(unknown)
    word = "option" if len(unknown) == 1 else "options"
    accepted = list(accepted)
    accepted_text = said or (
        f"its options are {quoted(accepted)}" if accepted else "it takes no options"
    )
    raise InputError(
        f"{what} takes no {word} {quoted(unknown)}{_owners(unknown)}", accepted_text + extra
    )

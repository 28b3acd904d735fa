"""How the ``searchkit`` command meets the console: exit codes, one-line errors instead of
tracebacks, Ctrl-C and closed standard streams, and the options and argument checks its
commands share (a mistyped option is refused, naming the nearest real one)."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import re
import sys

import click

from .errors import SearchkitError

EXIT_HITS, EXIT_NO_HITS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class UserError(click.ClickException):
    """A one-line message and exit code 2, for every error a user can cause."""

    exit_code = EXIT_ERROR


class Interrupted(BaseException):
    """SIGTERM (or SIGHUP) arrived: unwind, so that what a run wrote is removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.exit_code = 128 + signum


def on_signal(signum, frame):
    raise Interrupted(signum)


class Group(click.Group):
    """Turns searchkit errors into one line on stderr and the documented exit code; a bug
    is one line too, with its traceback when ``SEARCHKIT_DEBUG=1``; a usage error is one line
    with where to read more, not Click's usage block."""

    def main(self, *args, standalone_mode=True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "searchkit"
            message = exc.format_message().rstrip(".")
            hint = "" if "--help" in message else f" (see: {where} --help)"
            click.echo(f"Error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except SearchkitError as exc:
            raise UserError(str(exc)) from exc
        except KeyboardInterrupt:
            _say("interrupted")
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except Interrupted as exc:
            _say("stopped by a signal")
            raise click.exceptions.Exit(exc.exit_code) from None
        except BrokenPipeError:  # the reader went away (| head): end quietly, as grep does
            _silence_stdout()
            raise click.exceptions.Exit(EXIT_HITS) from None
        except OSError as exc:
            if exc.errno == errno.EBADF and getattr(exc, "filename", None) == "<stdout>":
                raise UserError("cannot write the results: standard output is closed") from exc
            raise _internal(exc) from exc
        except Exception as exc:  # a bug: say so in one line
            raise _internal(exc) from exc


def _internal(exc: BaseException) -> UserError:
    if os.environ.get("SEARCHKIT_DEBUG"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return UserError(
        f"internal error: {type(exc).__name__}: {exc} "
        "(a bug in searchkit; SEARCHKIT_DEBUG=1 prints where)"
    )


def _say(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"searchkit: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class _ClosedStream(io.TextIOBase):
    """Stands for a standard stream that was closed when searchkit started: its descriptor
    is held open on /dev/null (so no index file can take that number), and writing or
    reading it fails with a clear error."""

    def __init__(self, name: str):
        self.name = f"<{name}>"
        self.what = "standard input" if name == "stdin" else "standard output"

    def _closed(self, *args):
        raise OSError(errno.EBADF, f"{self.what} is closed", self.name)

    write = read = readline = _closed

    def isatty(self) -> bool:
        return False


def guard_standard_streams() -> set[int]:
    """Open /dev/null on any of the descriptors 0, 1 and 2 that the caller closed (``2>&-``,
    as under some cron setups), before anything else can be given those numbers; returns
    which were closed.  A closed stdin or stdout fails when used; a closed stderr is quiet."""
    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
            held = os.open(os.devnull, os.O_RDWR)
            if held != fd:
                os.dup2(held, fd)
                os.close(held)
    if 0 in closed:
        sys.stdin = _ClosedStream("stdin")
    if 1 in closed:
        sys.stdout = _ClosedStream("stdout")
    if 2 in closed:
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    return closed


index_option = click.option(
    "--index",
    "index",
    metavar="DIR",
    envvar="SEARCHKIT_INDEX",
    default="index",
    show_default=True,
    help="Index folder (or set SEARCHKIT_INDEX).",
)


def color_option(func):
    return click.option("--no-color", is_flag=True, help="No colours (also: NO_COLOR=1).")(func)


def json_option(func):
    return click.option("json_", "--json", is_flag=True, help="Print one JSON object.")(func)


def output_options(func):
    """``--json``, ``--jsonl``, ``--no-color`` and ``--pager`` for a command that lists hits,
    given to it as one ``fmt`` (:class:`searchkit.output.Format`); conflicts are refused."""

    @functools.wraps(func)
    def wrapper(*args, json_, jsonl, no_color, pager, **kwargs):
        from .output import Format, use_color

        if json_ and jsonl:
            raise click.UsageError("give --json or --jsonl, not both")
        if pager and (json_ or jsonl):
            raise click.UsageError("--pager pages text; it does not go with --json or --jsonl")
        fmt = Format(json=json_, jsonl=jsonl, color=use_color(no_color), pager=pager)
        return func(*args, fmt=fmt, **kwargs)

    for option in reversed(
        [
            json_option,
            click.option("--jsonl", is_flag=True, help="Print one JSON hit per line."),
            color_option,
            click.option("--pager", is_flag=True, help="Page the text output (less, or $PAGER)."),
        ]
    ):
        wrapper = option(wrapper)
    return wrapper


class QueryCommand(click.Command):
    """A command whose arguments are query words: ``-北京`` is a negation, and ``--`` ends the
    options (``-- -word`` searches for anything); any other word that looks like an option
    (``-x``, ``--sicne``) is refused, naming the nearest real one, and so are options that
    contradict each other."""

    #: Options that cannot be given together.
    conflicts: tuple[tuple[str, ...], ...] = ()

    def parse_args(self, ctx, args):
        args = list(args)
        cut = args.index("--") if "--" in args else len(args)
        options = args[:cut]
        for token in options:
            if token.isascii() is False and not token.startswith("--"):
                continue
            if token == "--" or not _OPTION_LIKE.match(token):
                continue
            if token.split("=", 1)[0] not in self._names(ctx):
                raise click.UsageError(self._no_such(ctx, token), ctx=ctx)
        for group in self.conflicts:
            given = [name for name in group if any(_is(token, name) for token in options)]
            if len(given) > 1:
                raise click.UsageError(f"give {' or '.join(given)}, not both", ctx=ctx)
        for token in args:
            if _not_utf8(token):
                raise click.UsageError(
                    f"the query {token.encode('utf-8', 'surrogateescape')!r} is not UTF-8 text "
                    "(convert it, e.g. with iconv -f GB18030 -t UTF-8)",
                    ctx=ctx,
                )
        return super().parse_args(ctx, args)

    def _names(self, ctx) -> set[str]:
        names = set()
        for param in self.get_params(ctx):
            names.update(getattr(param, "opts", ()))
            names.update(getattr(param, "secondary_opts", ()))
        return names

    def _no_such(self, ctx, token: str) -> str:
        import difflib

        name = token.split("=", 1)[0]
        longs = sorted(n for n in self._names(ctx) if n.startswith("--"))
        near = difflib.get_close_matches(name, longs, n=1, cutoff=0.6) if name[1] == "-" else []
        hint = f"; did you mean {near[0]}?" if near else ""
        return (
            f"no such option {name}{hint} (to search for the word: searchkit {self.name} -- "
            f"{name}; options: searchkit {self.name} --help)"
        )


#: What a word that means an option looks like: ``-`` and an ASCII letter, or ``--`` and more.
_OPTION_LIKE = re.compile(r"-[A-Za-z]|--.")


def _is(token: str, name: str) -> bool:
    return token == name or token.startswith(name + "=")


def _not_utf8(token: str) -> bool:
    """Whether a command-line word held bytes that are not UTF-8 (Python keeps them as lone
    surrogates)."""
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _date(ctx, param, value):
    if value is None:
        return None
    from .dates import parse_date_option
    from .errors import QueryError

    try:
        return parse_date_option(value, end=param.name == "until")
    except QueryError as exc:
        raise click.BadParameter(str(exc)) from exc


class SearchCommand(QueryCommand):
    conflicts = (
        ("--all", "--any"),
        ("--json", "--jsonl", "-c", "--count"),
        ("--json", "--jsonl", "-l", "--files"),
        ("-c", "--count", "-l", "--files"),
    )


def filter_options(func):
    """``--since``, ``--until``, ``--tag`` and ``--category``: which posts a search or a trend
    looks at (the API's ``since``, ``until``, ``tag`` and ``category``)."""
    for option in reversed(
        (
            click.option("--since", callback=_date, metavar="DATE", help="Posts on or after DATE."),
            click.option(
                "--until", callback=_date, metavar="DATE", help="Posts on or before DATE."
            ),
            click.option(
                "--tag", "tags", multiple=True, help="Only posts with this tag (repeatable)."
            ),
            click.option(
                "--category", "categories", multiple=True, help="Only posts in this category."
            ),
        )
    ):
        func = option(func)
    return func

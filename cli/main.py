"""The ``certhygiene`` command: one subcommand per file in this package.

Each subcommand module defines ``register(subparsers)`` which adds its parser
and sets ``func`` to a callable taking the parsed arguments and returning the
exit code (0 clean, 1 findings or failure, 2 usage error).
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

# Order is the order of `certhygiene --help`.
SUBCOMMANDS = (
    "check",
    "rules",
    "report",
    "split",
    "complete",
    "probe",
    "push",
    "delete",
    "sandbox",
)


def version() -> str:
    """The installed distribution's version (pyproject.toml), which galaxy.yml repeats for the collection."""
    # Here, not at the top: importlib.metadata (zipfile, email, pathlib ...) costs ~25 ms of every run.
    import importlib.metadata

    try:
        return importlib.metadata.version("certhygiene")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed; run pip install .)"


class _VersionAction(argparse._VersionAction):
    """argparse's ``--version``, looking the version up only when the option is given."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        self.version = f"%(prog)s {version()}"
        super().__call__(parser, namespace, values, option_string)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, worked out as shutil does, without importing it: argparse asks
    for it in every formatter it makes (one per ``add_argument``), and shutil with the compression modules it
    imports costs ~4 ms of each run."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, as wide as argparse makes it (the terminal, less 2 columns)."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse's RawDescriptionHelpFormatter, as wide as ``HelpFormatter``."""


class ArgumentParser(argparse.ArgumentParser):
    """The command's and its subcommands' parsers: their help is formatted by ``HelpFormatter``."""

    def __init__(self, *args: Any, formatter_class: Any = HelpFormatter, **kwargs: Any) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser; ``only``: register just that subcommand (its module alone is imported)."""
    parser = ArgumentParser(
        prog="certhygiene",
        description="Keep TLS certificates clean: check them against a deployment's import rules, "
        "repair chains, push them to a deployment, probe endpoints and run a local sandbox deployment.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMANDS:
        if only is not None and name != only:
            continue
        importlib.import_module(f"certhygiene.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # The first argument names the subcommand: import only its module (the others import what they need at
    # startup, e.g. the sandbox its logging and threading). Anything else (--help, a typo) gets every subcommand.
    chosen = arguments[0] if arguments and arguments[0] in SUBCOMMANDS else None
    if arguments[:1] == ["--version"]:
        chosen = SUBCOMMANDS[0]  # no need to import every subcommand to say the version
    from certhygiene.findings import prepare_console

    prepare_console()
    parser = build_parser(only=chosen)
    args = parser.parse_args(arguments)
    # Work that need not wait for the import below (check: the walk of the folders, in a fork); closed however
    # the command ends.
    begin = getattr(args, "begin", None)
    started = begin(args) if begin is not None else None
    try:
        return _run(args)
    finally:
        if started is not None:
            started.close()


def run() -> NoReturn:
    """The ``certhygiene`` program (the console script, ``python -m certhygiene``): ``main``, then ``exit_now``.
    (argparse's own exits, ``--help`` and usage errors, end the usual way.)"""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once its exit handlers ran and its output is out, without the interpreter's
    teardown: freeing every object of cryptography, the engine and the run took ~6 ms of a check of 10,000 files
    (mypy ends its runs the same way). With a thread still running, the usual exit, which waits for it."""
    threading = sys.modules.get("threading")
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is None or (threading is not None and threading.active_count() > 1):
        sys.exit(code)
    run_handlers()  # what a normal exit would run: logging's flush, temporary files' removal, ...
    try:
        sys.stdout.flush()
    except OSError:  # the reader went away (`certhygiene check | head`): as a broken pipe during the run
        code = code or 1
    try:
        sys.stderr.flush()
    except OSError:  # nowhere left to say it
        pass
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command != "rules":  # the catalog is text; everything else reads or makes certificates
            from certhygiene._crypto import requirement_problem

            problem = requirement_problem(sys.executable)
            if problem:
                print(f"certhygiene: {problem}", file=sys.stderr)
                return 2
        return int(args.func(args))
    except KeyboardInterrupt:  # also while cryptography is imported (the longest part of a start)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # the last resort: every known failure has its own message; never a traceback
        from certhygiene.findings import safe_text

        detail = safe_text(str(exc).splitlines()[0][:200] if str(exc) else "")
        print(
            f"certhygiene {args.command}: unexpected error ({type(exc).__name__}: {detail}); "
            "nothing more was done. Please report this with the command that caused it.",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    run()

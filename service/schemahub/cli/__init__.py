"""The ``schemahub`` command line.

Each module in this package that defines ``register(subparsers)`` adds its commands; a handler
takes the parsed arguments and returns an exit code. Errors of ours become one line on stderr
and exit code 2; nothing reaches the user as a bare traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any

from schemahub import __version__
from schemahub.errors import SchemaHubError
from schemahub.redact import mask_uri_passwords

EXIT_ERROR = 2
EXIT_UNEXPECTED = 1
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command module's subcommands."""
    parser = argparse.ArgumentParser(
        prog="schemahub",
        description="Venue trade feeds into one exactly-once Apache Iceberg tick history.",
    )
    parser.add_argument("--version", action="version", version=f"schemahub {__version__}")
    _add_global_options(parser, default=None)
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--config",
        default=default,
        help="YAML config file (default: config/schemahub.yaml when present)",
    )
    parser.add_argument(
        "--log-level",
        default=default,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="override the configured log level",
    )


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: takes the global options too, so they may follow the command.

    Their default is SUPPRESS, so a value given before the command is not overwritten by a
    subcommand that did not repeat it. Nested subcommands inherit this class from argparse.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _add_global_options(self, default=argparse.SUPPRESS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.log_level or "INFO")
    try:
        return int(args.handler(args) or 0)
    except SchemaHubError as exc:
        print(f"schemahub: error: {mask_uri_passwords(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("schemahub: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug or a library failure: still one line, no traceback
        logging.getLogger("schemahub").debug("unexpected error", exc_info=True)
        print(
            f"schemahub: unexpected error: {type(exc).__name__}: {mask_uri_passwords(str(exc))} "
            "(run with --log-level DEBUG for the traceback)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


def _configure_logging(level: str) -> None:
    from schemahub.logs import configure

    configure(level)


if __name__ == "__main__":
    sys.exit(main())

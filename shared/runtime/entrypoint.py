"""How every `python -m <service>` starts: `--help`, settings, and errors an operator can read.

`--help` prints the usage and every environment variable the process reads, with its
default and meaning, and exits 0 before anything is read or touched. A setting that cannot
work (a port that is no number, a malformed URL, a database that refuses the login) ends
the process with one line naming the variable and the problem, and status 2: no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsError

from shared.contracts.settings import ServiceSettings
from shared.runtime.config_errors import ConfigurationError
from shared.runtime.logs import setup_logging
from shared.runtime.service import run

S = TypeVar("S", bound=BaseSettings)

# Exit status for a configuration that cannot work, as for a bad command line.
CONFIG_ERROR = 2


def describe(exc: ValidationError, *, env_names: bool = False) -> str:
    """The problems of a validation error on one line, without echoing any input (it may be
    a secret)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        where = where.upper() if env_names else where
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def environment_help(settings: type[BaseSettings], skip: Collection[str] = ()) -> str:
    """Every environment variable ``settings`` reads (but ``skip``), its default and meaning."""
    lines = ["environment variables:"]
    for name, field in settings.model_fields.items():
        if name in skip:
            continue
        lines.append(f"  {name.upper():34} {field.description or ''}")
        lines.append(f"  {'':34} (default: {_shown(field.default)})")
    return "\n".join(lines)


def _shown(default: Any) -> str:
    if default is None or isinstance(default, SecretStr):
        return "unset"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, frozenset | set | tuple | list):
        return ",".join(sorted(str(v) for v in default)) or "empty"
    text = str(default)
    return text if text else "empty"


def parser(
    prog: str,
    description: str,
    settings: type[BaseSettings],
    *,
    skip: Collection[str] = (),
) -> argparse.ArgumentParser:
    """An argument parser whose `--help` ends with the environment variables."""
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=environment_help(settings, skip),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def fail(message: str) -> NoReturn:
    """Print one line for the operator and exit with CONFIG_ERROR."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(CONFIG_ERROR)


def load_settings(settings: Callable[[], S]) -> S:
    """The settings from the environment, or one line and exit status 2."""
    try:
        return settings()
    except ValidationError as exc:
        fail(f"invalid configuration: {describe(exc, env_names=True)}")
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        fail(f"invalid configuration: {exc}")


def serve_main(
    service: str,
    settings_class: type[ServiceSettings],
    create_app: Callable[[Any], web.Application],
    *,
    description: str,
    skip: Collection[str] = (),
    argv: Sequence[str] | None = None,
) -> int:
    """The whole `main()` of a service that only serves: help, settings, logging, serve."""
    parser(f"python -m {service}", description, settings_class, skip=skip).parse_args(argv)
    settings = load_settings(settings_class)
    return serve(service, settings, create_app)


def serve(
    service: str, settings: ServiceSettings, create_app: Callable[[Any], web.Application]
) -> int:
    """Serve until SIGTERM; a configuration that cannot work ends it with one line and 2."""
    setup_logging(service, settings.log_level)
    try:
        run(create_app(settings), settings)
    except ConfigurationError as exc:
        fail(str(exc))
    return 0

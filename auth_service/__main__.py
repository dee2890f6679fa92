"""`python -m auth_service [serve | create-admin NAME | issue-tokens --count N]`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import get_args

from pydantic import ValidationError

from auth_service import cli
from auth_service.app import create_app
from auth_service.domain import NotABenchAccount
from auth_service.keys import KeyConfigError
from auth_service.settings import AuthSettings
from shared.logs import setup_logging
from shared.service import run
from shared.tokens import Role


def positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m auth_service", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve HTTP (the default)")
    admin = commands.add_parser(
        "create-admin",
        help="create an admin account, or promote an existing one and set its password",
        description="The password is prompted for twice on a terminal, else read from stdin.",
    )
    admin.add_argument("username")
    bench = commands.add_parser(
        "issue-tokens", help="create load-test users and print a token for each (JSON lines)"
    )
    bench.add_argument("--count", type=positive, required=True)
    bench.add_argument("--prefix", default="bench")
    bench.add_argument(
        "--ttl", type=positive, default=None, help="seconds (default JWT_TTL_SECONDS)"
    )
    bench.add_argument("--role", choices=get_args(Role), default="user")
    bench.add_argument("--workers", type=positive, default=None, help="signing processes (CPUs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = AuthSettings()
    except ValidationError as exc:
        print(f"error: invalid configuration: {cli.describe(exc, env_names=True)}", file=sys.stderr)
        return 2
    if args.command in (None, "serve"):
        return serve(settings)
    # Commands keep stdout for their result (issue-tokens prints JSON lines): logs go to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    try:
        if args.command == "create-admin":
            print(cli.create_admin(settings, args.username, sys.stdin))
            return 0
        started = time.perf_counter()
        count = cli.issue_tokens(
            settings,
            count=args.count,
            prefix=args.prefix,
            ttl_seconds=args.ttl,
            role=args.role,
            workers=args.workers,
            out=sys.stdout,
        )
        print(f"issued {count} tokens in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return 0
    except cli.CommandError as exc:
        return cli.fail(exc)
    except (KeyConfigError, NotABenchAccount) as exc:
        return cli.fail(cli.CommandError(str(exc)))


def serve(settings: AuthSettings) -> int:
    setup_logging("auth_service", settings.log_level)
    try:
        run(create_app(settings), settings)
    except KeyConfigError as exc:
        logging.getLogger("auth_service").error("cannot start: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

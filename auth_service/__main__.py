"""`python -m auth_service [serve | create-admin NAME | issue-tokens --count N]`."""

from __future__ import annotations

import argparse
import logging
import sys

from auth_service.app import create_app
from auth_service.entrypoints import cli
from auth_service.loadtest import command as issue_tokens
from auth_service.settings import AuthSettings
from auth_service.signing_keys import KeyConfigError
from shared.runtime import entrypoint

# Settings every service has that the auth service does not use.
_NOT_READ = {
    "amqp_url",
    "auth_url",
    "inventory_url",
    "order_url",
    "intent_partitions",
    "intent_queue_max_length",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = entrypoint.parser(
        "python -m auth_service",
        "Accounts, passwords and the RS256 tokens every other service verifies.",
        AuthSettings,
        skip=_NOT_READ,
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve HTTP (the default)")
    admin = commands.add_parser(
        "create-admin",
        help="create an admin account, or promote an existing one and set its password",
        description="The password is prompted for twice on a terminal, else read from stdin.",
    )
    admin.add_argument("username")
    issue_tokens.add_parser(commands)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = entrypoint.load_settings(AuthSettings)
    if args.command in (None, "serve"):
        return entrypoint.serve("auth_service", settings, create_app)
    # Commands keep stdout for their result (issue-tokens prints JSON lines): logs go to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    try:
        if args.command == "create-admin":
            print(cli.create_admin(settings, args.username, sys.stdin))
            return 0
        return issue_tokens.run(settings, args)
    except cli.CommandError as exc:
        return cli.fail(exc)
    except KeyConfigError as exc:
        return cli.fail(cli.CommandError(str(exc)))


if __name__ == "__main__":
    sys.exit(main())

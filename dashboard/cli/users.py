"""The `newtown users` subcommands: add, list and disable accounts of a store."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from dashboard.cli._common import UsageError, add_store_options, print_json, report_errors
from geo.store import ROLES

__all__ = ["add_users_command"]


def add_users_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``users add|list|disable`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser("users", help="accounts and roles of a store")
    actions = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    q = actions.add_parser("add", help="create an account (password from a prompt or stdin)")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--role", required=True, choices=ROLES)
    q.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    add_store_options(q, user_help="the admin creating the account (not needed for the "
                                   "store's first admin)", user_required=False)
    q.set_defaults(func=lambda a: report_errors(_add, a))
    q = actions.add_parser("list", help="accounts with their roles (never password hashes)")
    q.add_argument("--json", action="store_true")
    add_store_options(q, user_required=False, with_user=False)
    q.set_defaults(func=lambda a: report_errors(_list, a))
    q = actions.add_parser("disable", help="disable an account (kept for the history)")
    q.add_argument("name", metavar="NAME")
    add_store_options(q, user_help="the admin disabling the account")
    q.set_defaults(func=lambda a: report_errors(_disable, a))
    return p


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ")
    if not password:
        raise UsageError("no password given")
    return password


def _add(args: argparse.Namespace) -> int:
    from geo.store import open_store

    password = _password(args)
    with open_store(args.store) as store:
        user = store.add_user(args.name, args.role, password, actor=args.user)
    print(f"added {user.name} ({user.role})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from geo.store import open_store

    with open_store(args.store) as store:
        users = store.users()
    if args.json:
        print_json([{"name": u.name, "role": u.role, "disabled": u.disabled,
                     "created": u.created} for u in users])
        return 0
    for u in users:
        print(f"{u.name:<20} {u.role:<9} {'disabled' if u.disabled else 'active':<9} "
              f"{u.created}")
    return 0


def _disable(args: argparse.Namespace) -> int:
    from geo.store import open_store

    with open_store(args.store) as store:
        store.disable_user(args.name, actor=args.user)
    print(f"disabled {args.name}")
    return 0

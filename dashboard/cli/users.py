"""The `newtown users` subcommands: accounts of a store (add, list, disable, password) and
their dashboard sign-in sessions (sessions, revoke)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from dashboard.cli._common import UsageError, add_store_options, print_json, report_errors
from geo.store import ROLES

__all__ = ["add_users_command"]


def add_users_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``users add|list|disable|password|sessions|revoke`` on the subparsers object of
    the ``newtown`` parser."""
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
    q = actions.add_parser("password", help="set an account's password (ends its sessions)")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    add_store_options(q, user_help="an admin, or the account itself")
    q.set_defaults(func=lambda a: report_errors(_set_password, a))
    q = actions.add_parser("sessions", help="an account's dashboard sign-ins: id, created, "
                                            "last seen, address (no secrets)")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--json", action="store_true")
    add_store_options(q, user_required=False, with_user=False)
    q.set_defaults(func=lambda a: report_errors(_sessions, a))
    q = actions.add_parser("revoke", help="end one dashboard sign-in (--session ID) or all of "
                                          "an account's (--all), at once in every server")
    q.add_argument("name", metavar="NAME")
    which = q.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", metavar="ID", help="the id `newtown users sessions` shows")
    which.add_argument("--all", action="store_true", help="every session of the account")
    add_store_options(q, user_help="an admin, or the account itself")
    q.set_defaults(func=lambda a: report_errors(_revoke, a))
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


def _set_password(args: argparse.Namespace) -> int:
    from geo.store import open_store

    password = _password(args)
    with open_store(args.store) as store:
        store.set_password(args.name, password, actor=args.user)
    print(f"password of {args.name} changed; its sessions are ended")
    return 0


def _sessions(args: argparse.Namespace) -> int:
    from geo.store import open_store

    with open_store(args.store) as store:
        if store.user(args.name) is None:
            raise UsageError(f"no user {args.name!r}")
        found = store.sessions(args.name)
    if args.json:
        print_json([{"session": s.session_id, "user": s.user, "created": s.created,
                     "last_seen": s.last_seen, "expires": s.expires, "address": s.address,
                     "agent": s.agent} for s in found])
        return 0
    if not found:
        print(f"{args.name} has no open session")
        return 0
    print(f"{'session':<13} {'created (UTC)':<20} {'last seen (UTC)':<20} {'address':<16} browser")
    for s in found:
        print(f"{s.session_id:<13} {s.created[:19].replace('T', ' '):<20} "
              f"{s.last_seen[:19].replace('T', ' '):<20} {s.address:<16} {s.agent[:40]}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from geo.store import open_store

    with open_store(args.store) as store:
        ended = store.revoke_sessions(args.name, actor=args.user,
                                      session_id=None if args.all else args.session)
    print(f"ended {ended} session(s) of {args.name}")
    return 0

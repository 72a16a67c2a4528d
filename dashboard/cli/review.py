"""The `newtown review` subcommands: the queue of proposed changes, approve, reject."""

from __future__ import annotations

import argparse
from typing import Any

from dashboard.cli._common import add_store_options, print_json, report_errors
from dashboard.cli.facility import describe_change
from dashboard.cli.history import change_lines
from geo.store import open_store

__all__ = ["add_review_command"]


def add_review_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``review list|approve|reject`` on the subparsers object of ``newtown``."""
    p: argparse.ArgumentParser = sub.add_parser("review",
                                                help="proposed changes: list, approve, reject")
    actions = p.add_subparsers(dest="review_command", required=True, metavar="ACTION")
    q = actions.add_parser("list", help="changes waiting for a reviewer, oldest first")
    q.add_argument("--json", action="store_true")
    add_store_options(q, with_user=False, user_required=False)
    q.set_defaults(func=lambda a: report_errors(_list, a))
    for name, text in (("approve", "apply a proposed change"),
                       ("reject", "turn a proposed change down (kept in history)")):
        q = actions.add_parser(name, help=text)
        q.add_argument("change_id", type=int, metavar="CHANGE_ID")
        q.add_argument("--comment", default="", metavar="TEXT")
        add_store_options(q, user_help="the reviewer (reviewer or admin role)")
        q.set_defaults(func=lambda a: report_errors(_decide, a), approve=name == "approve")
    return p


def _list(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        queue = store.proposals()
    if args.json:
        print_json([c.to_json() for c in queue])
        return 0
    if not queue:
        print("no changes wait for review")
    for change in queue:
        print("\n".join(change_lines(change)))
    return 0


def _decide(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        change = store.review(args.change_id, args.user, approve=args.approve,
                              comment=args.comment)
    print(describe_change(change))
    return 0

"""The `newtown history` subcommand: every change of a store, or of one facility."""

from __future__ import annotations

import argparse
from typing import Any

from dashboard.cli._common import add_store_options, print_json, report_errors
from geo.store import Change, open_store

__all__ = ["add_history_command", "change_lines"]


def add_history_command(sub: Any) -> argparse.ArgumentParser:
    """Register ``history`` on the subparsers object of the ``newtown`` parser."""
    p: argparse.ArgumentParser = sub.add_parser(
        "history", help="changes (who, when, why, source, review), oldest first")
    p.add_argument("id", nargs="?", default=None, metavar="ID", help="one facility")
    p.add_argument("--since", default=None, metavar="DATE", help="UTC date or date-time")
    p.add_argument("--json", action="store_true")
    add_store_options(p, with_user=False, user_required=False)
    p.add_argument("--user", default=None, metavar="U", help="changes made by this account")
    p.set_defaults(func=lambda a: report_errors(_history, a))
    return p


def change_lines(change: Change) -> list[str]:
    """A change as a few readable lines: header, what changed, why and on what source."""
    head = (f"#{change.change_id} {change.time} {change.user} {change.action} "
            f"{change.facility_id} v{change.base_version}->v{change.version} "
            f"[{change.review_state}]")
    lines = [head]
    before = change.before or {}
    diff = [k for k, v in change.after.items() if before.get(k) != v]
    for key in diff:
        lines.append(f"    {key}: {before.get(key, '')!r} -> {change.after[key]!r}")
    lines.append(f"    reason: {change.reason}  source: {change.source}")
    if change.reviewer:
        lines.append(f"    reviewed by {change.reviewer} at {change.reviewed_at}: "
                     f"{change.review_comment or ''}")
    return lines


def _history(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        changes = store.history(args.id, since=args.since, user=args.user)
    if args.json:
        print_json([c.to_json() for c in changes])
        return 0
    if not changes:
        print("no changes")
    for change in changes:
        print("\n".join(change_lines(change)))
    return 0

"""Layout per panel: functions that build components; they never import callbacks."""

from __future__ import annotations

from typing import Any


def aria(**values: str) -> dict[str, Any]:
    """ARIA attributes as Dash wildcard props: ``aria(label="x")`` -> ``{"aria-label": "x"}``.

    Dash's html components accept any ``aria-*`` prop, but their typed signatures cannot name
    them; splatting this dict keeps them typed as what they are (strings).
    """
    return {f"aria-{key.replace('_', '-')}": value for key, value in values.items()}

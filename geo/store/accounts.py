"""Passwords as salted scrypt hashes, and what each role may do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from geo._errors import StoreError

#: scrypt cost (n = 2**14, r = 8, p = 1: OWASP's minimum for scrypt, ~50 ms here).
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
MIN_PASSWORD_LENGTH = 8

#: Role -> rank; a role may do what every lower rank may do.
ROLE_RANK = {"viewer": 0, "editor": 1, "reviewer": 2, "admin": 3}


def hash_password(password: str) -> str:
    """A salted scrypt hash in a self-describing text form (``scrypt$n$r$p$salt$key``).

    Parameters
    ----------
    password : str
        At least :data:`MIN_PASSWORD_LENGTH` characters.

    Returns
    -------
    str
        Safe to store; the password cannot be read back from it.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StoreError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    salt = secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY_BYTES)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the hash ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(key)
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                         p=int(p), dklen=len(expected))
    return hmac.compare_digest(got, expected)


def check_role(role: str) -> str:
    """The role if it is one of viewer, editor, reviewer, admin; else a clear StoreError."""
    if role not in ROLE_RANK:
        raise StoreError(f"unknown role {role!r}; use one of {', '.join(ROLE_RANK)}")
    return role


def at_least(role: str, needed: str) -> bool:
    """True when ``role`` ranks at or above ``needed``."""
    return ROLE_RANK[role] >= ROLE_RANK[needed]

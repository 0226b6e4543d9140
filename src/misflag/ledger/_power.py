"""The entries that grant power, checked: key rotations (which keys sign a checkpoint of each size),
signed rule changes whose version only increases, and the tokens created and revoked.

Part of `_verify`: a rotation counts only when signed by a key in force, so trust always starts from
the pinned keys.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from typing import Any

from misflag.ledger._events import canonical
from misflag.ledger._keys import key_id, rotation_message, signature_valid


class KeySchedule:
    """Which keys are in force for a checkpoint of each size: the pinned keys, then each signed rotation."""

    def __init__(self, pinned: Mapping[str, bytes]) -> None:
        self.starts: list[int] = [0]
        self.sets: list[dict[str, bytes]] = [dict(pinned)]
        self.ever: dict[str, bytes] = dict(pinned)

    def at(self, size: int) -> dict[str, bytes]:
        """Keys that may sign a checkpoint of `size` entries (rotations among the first `size` applied)."""
        return self.sets[bisect.bisect_right(self.starts, size) - 1]

    def rotate(self, seq: int, payload: Mapping[str, Any]) -> str | None:
        """Apply the `key_rotated` entry at `seq`; return a problem if it is not signed by a key in force."""
        current = self.at(seq)
        try:
            old, new, public = (
                payload["old_key_id"],
                payload["new_key_id"],
                bytes.fromhex(payload["new_public_key"]),
            )
            signature = bytes.fromhex(payload["signature"])
        except (KeyError, TypeError, ValueError):
            return f"entry {seq}: malformed key rotation"
        if old not in current or not signature_valid(
            current[old], signature, rotation_message(old, new, public)
        ):
            return f"entry {seq}: key rotation to {new} is not signed by a trusted key in force"
        if key_id(public) != new:
            return f"entry {seq}: key rotation names key {new} but carries another key"
        self.starts.append(seq + 1)
        self.sets.append({name: value for name, value in current.items() if name != old} | {new: public})
        self.ever[new] = public
        return None


def check_power(
    power: Sequence[tuple[int, str, str]], schedule: KeySchedule, sealed: int
) -> tuple[dict[str, tuple[str, str]], set[str], str | None]:
    """Check every entry that grants power; return tokens created (by hash or legacy id), ids revoked."""
    created: dict[str, tuple[str, str]] = {}
    revoked: set[str] = set()
    version = 0
    for seq, kind, body in power:
        if seq >= sealed:
            return created, revoked, f"entry {seq} ({kind}) is not sealed, yet the store seals it at once"
        payload = json.loads(body)["payload"]
        problem = None
        if kind == "key_rotated":
            problem = schedule.rotate(seq, payload)
        elif kind == "rules_changed" and "signature" in payload:
            statement = {
                name: value for name, value in payload.items() if name not in ("key_id", "signature")
            }
            public = schedule.at(seq).get(payload.get("key_id", ""))
            if public is None or not signature_valid(
                public, bytes.fromhex(payload["signature"]), canonical(statement).encode()
            ):
                problem = f"entry {seq}: rule change not signed by a trusted key in force"
            elif payload["rule_set"]["version"] <= version:
                problem = (
                    f"entry {seq}: rule set version {payload['rule_set']['version']} does not increase on "
                    f"{version} (an old rule set replayed)"
                )
            version = payload["rule_set"]["version"]
        elif kind == "token_created":
            created[payload.get("token_hash") or payload["id"]] = (payload["name"], payload["role"])
        elif kind == "token_revoked":
            revoked.add(payload["id"])
        if problem:
            return created, revoked, problem
    return created, revoked, None

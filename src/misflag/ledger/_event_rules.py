"""Ledger event rules: the case event kinds, who may record each, their required fields and limits.

Plain data shared by the event checks (`_events`) and the ledger's readers (verify, export, access).
"""

import re

ROLES = ("recorder", "reviewer", "auditor", "admin")

# Case events: the payload fields each requires, and the roles allowed to record it.
CASE_EVENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "flagged": (("rule_id", "rule_version", "input_digest"), ("recorder", "admin")),
    "reviewed": (("outcome", "reason_code"), ("reviewer", "admin")),
    "identity_claim": (("claim",), ("recorder", "reviewer", "admin")),
    "identity_verified": (("result",), ("reviewer", "admin")),
    "action": (("action",), ("recorder", "reviewer", "admin")),
    "notice_sent": (("channel",), ("recorder", "reviewer", "admin")),
    "appeal_filed": ((), ("recorder", "reviewer", "admin")),
    "appeal_decided": (("outcome",), ("reviewer", "admin")),
    "corrected": (("flag_was_wrong",), ("reviewer", "admin")),
}
# Events the ledger writes about itself; no client may submit them.
SYSTEM_EVENTS = (
    "rejected",
    "rules_changed",
    "token_created",
    "token_revoked",
    "auditor_read",
    "key_rotated",
    "released",  # what a decision audit published from one input (_releases.py)
)
# Required payload fields that are true/false rather than text.
BOOLEAN_FIELDS = frozenset({"flag", "flag_was_wrong"})
MAX_FIELD = 512  # characters of one required text field
MAX_PAYLOAD = 16_384  # characters of a whole canonical payload
MAX_DEPTH = 16  # levels of objects and arrays in a payload (checked without recursion)
MAX_EXACT_INTEGER = 2**53  # integers beyond this are not exact (or not finite) as a double
# Floats the fast path lets orjson write, as json does (Python's repr): 1e-4 <= |x| < 1e15, or zero. Below
# it the two differ (json 1.5e-05, orjson 0.000015); above it they agree but nothing relies on that. The
# full checks encode the others with json.
ORJSON_FLOATS = (1e-4, 1e15)
# Required text fields are labels (channel, reason code, action...): NFKC text without hidden characters.
LABEL_FIELDS = frozenset(name for required, _ in CASE_EVENTS.values() for name in required) - BOOLEAN_FIELDS

CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("reviewed", "outcome"): ("confirmed", "dismissed"),
    ("identity_claim", "claim"): ("wrong_match", "citizenship", "lawful_status", "other"),
    ("identity_verified", "result"): ("claim_upheld", "claim_rejected"),
    ("appeal_decided", "outcome"): ("upheld", "overturned"),
}
CHOICES_BY_KIND: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for (_kind, _name), _allowed in CHOICES.items():
    CHOICES_BY_KIND.setdefault(_kind, []).append((_name, _allowed))
RESERVED_GROUPS = frozenset(
    {
        "case_id",
        "flagged",
        "score",
        "rule_id",
        "rule_version",
        "reviewed",
        "review_confirmed",
        "review_outcome",
        "reviewer_digest",
        "identity_claim",
        "identity_verified",
        "notice_sent",
        "action_taken",
        "action",
        "appealed",
        "appeal_outcome",
        "corrected",
        "truth",
        "first_seq",
        "last_seq",
        "first_ts",
        "last_ts",
    }
)
# The required text fields of each kind (all but the true/false ones).
TEXT_REQUIRED = {
    kind: tuple(name for name in required if name not in BOOLEAN_FIELDS)
    for kind, (required, _) in CASE_EVENTS.items()
}
GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")

"""Typed errors. Every problem a user can fix is a MisflagError: the CLI prints its one line and exits 2."""


class MisflagError(Exception):
    """A problem with the user's input, settings or environment, explained in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class InputError(MisflagError):
    """An input file or table is missing, empty, malformed, of the wrong type or lacks a column."""


class ExpressionError(InputError):
    """A SQL expression given by the user does not parse or names an unknown column."""


class RuleError(MisflagError):
    """A rules or settings file (matching rule, Splink settings, due-process rules) is invalid."""


class DatasetError(MisflagError):
    """A bundled dataset cannot be obtained or fails its checksum."""


class EngineError(MisflagError):
    """The execution engine (DuckDB or Spark) is unavailable or failed on valid input."""


class LedgerError(MisflagError):
    """The decision ledger cannot be read, written or verified."""


class LedgerRuleViolation(LedgerError):
    """An event breaks a due-process rule of the ledger; the rejection itself is logged."""

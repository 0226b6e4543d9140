"""decisions audits."""

"""inventory audits."""

"""linkage audits."""

"""ledger audits."""

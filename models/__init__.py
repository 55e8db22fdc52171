"""MongoDB stores, caches and the quota ledger."""

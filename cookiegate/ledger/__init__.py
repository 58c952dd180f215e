"""The consent ledger: append-only events in one RFC 6962/9162 Merkle log per site."""

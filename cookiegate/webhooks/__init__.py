"""Webhooks: a site's URLs told of consent changes and withdrawals, signed, retried from an outbox."""

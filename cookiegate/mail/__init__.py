"""Outgoing mail: an outbox table written in the same transaction as what caused the mail, sent
over SMTP right after commit and retried by `cookiegate worker`; in the demo the outbox is a page."""

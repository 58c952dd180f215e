"""Newsletter lists, double opt-in, one-click unsubscribe (RFC 8058), the preference centre."""

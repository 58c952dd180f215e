"""/api/v1: key-authenticated JSON for the shop's own services (mailer, analytics, checkout)."""

"""Sites (shops), their consent categories, cookie declarations and versioned notices."""

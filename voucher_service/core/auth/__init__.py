"""Staff and expert accounts: argon2 passwords, JWT bearer tokens, session cookies, roles."""

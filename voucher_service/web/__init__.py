"""Server-rendered French pages; they call the domains' services, never the reverse."""

"""Applications: the public form and API, eligibility rules, the registry client, review."""

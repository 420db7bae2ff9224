"""The ground floor: settings, database, errors, auth, audit. Imports no domain."""

"""Experts: the registry of accredited consultants, and redemption of cheques."""

"""Cheques: issuance, short codes, signed tokens and keys, the PDF, the life cycle."""

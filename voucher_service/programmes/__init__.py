"""Programmes: the rules a cheque is granted under, and the budget envelope."""

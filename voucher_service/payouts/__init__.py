"""Payouts: paying the experts for redeemed cheques, and accounting for it.

This package starts with its file formats, pure functions with no database: SEPA credit
transfers for the bank (:mod:`.sepa`, pain.001.001.03), bank statements read back
(:mod:`.camt`, camt.053), the French legal accounting export (:mod:`.fec`) and CSV
reports that open cleanly in French Excel (:mod:`.csv_export`).
"""

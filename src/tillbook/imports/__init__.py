"""Readers for the export files a small business already has (processors and ad platforms),
and the import runs that land them in the ledger and the ad-spend tables."""

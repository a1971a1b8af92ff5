"""Inspection reports: pass rates as of a time point, problem lists, spot-check samples."""

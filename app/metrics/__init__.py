"""Prometheus metrics (DESIGN §10): process counters and gauges read from the database.

``process`` holds what a process counts as it works (checks, webhook deliveries); the
``/metrics`` route adds gauges computed from the database at scrape time, so they are right
whichever process did the work. Prefix ``liveness_``, base units, fixed label sets; only
``liveness_account_info`` carries names.
"""

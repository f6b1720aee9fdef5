"""Metering (docs/api.md §3): rate limits, monthly quotas and usage history.

Touch storage (the counters table): ``limits``, ``usage``.
"""

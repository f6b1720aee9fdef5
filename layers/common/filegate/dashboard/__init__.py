"""The dashboard (docs/api.md §7): passwordless sign-in, server-side sessions, and pages that act on an account
through the same services as the API (keys, webhooks, usage, conversions, audit).

``web`` assembles the app from one router per page (``pages``); every page but sign-in takes the signed-in
``visits`` dependency and renders through ``rendering``. Alone: ``error_pages`` (how errors answer), ``csrf``
(tokens and the same-origin check), ``csv_export``, ``headers`` (the security headers), ``origin``, ``forms``.
"""

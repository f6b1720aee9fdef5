"""The dashboard (docs/api.md §7): passwordless sign-in, server-side sessions, and pages that act on an account
through the same services as the API (keys, webhooks, usage, conversions, audit)."""

"""The audit log (API.md §8): who changed what in an account, recorded by the services that make changes."""

"""The audit log (docs/api.md §8): who changed what in an account, recorded by the services that make changes."""

"""Accounts: sign-up, plan, usage and operators' changes (filegate.accounts.service), beside the keys."""

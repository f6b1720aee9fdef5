"""filegate-admin: operator commands against a deployed stack or the local stack."""

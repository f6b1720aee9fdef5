"""FileGate's shared package: domain logic, data access, errors, settings and observability."""

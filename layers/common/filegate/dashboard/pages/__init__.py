"""One router per dashboard page (filegate.dashboard.web assembles them)."""

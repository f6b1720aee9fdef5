"""One router per dashboard page (filegate.dashboard.web assembles them). A page's handlers are reached through
its module's ``router`` only, hence their private names."""

from filegate_local.gateway import ApiContext, IncomingRequest, proxy_event, request_context  # noqa: F401

"""Conversions (docs/api.md "Conversion"): the jobs and sync requests that run the engines, never naming one.

Every conversion is planned and run by ``filegate.engines.engine_for(source, target)``; nothing here imports
an engine module. Touch storage: ``records`` (the conversions table, quota reservations given back),
``create`` (single and bulk jobs, queued to the engine's worker by ``queueing``), ``url_jobs`` (a URL
imported, then converted), ``sync`` (`/v1/convert` and `/v1/compress`: one path, run now or queued and
waited for), ``worker`` (one ``run_queued`` for every engine's queue, and the dead-letter handler).
"""

"""msedocs.api: the HTTP service (``msedocs serve``), a face over the flow.

Nothing imports it; it calls the flow through one seam, :mod:`msedocs.api.engine`.

    app        FastAPI application: routes, problem documents, the front middleware
    engine     the seam to msedocs, generators and signing (server side and worker tasks)
    pool       spawned rendering processes, recycled, with a bounded queue (429 when full)
    jobs       claiming and running jobs: renders, journals, protocols (serve's runner, ``worker --jobs``)
    callbacks  a finished job's event POSTed to its callback_url, signed, retried from the store
    store      keys, jobs, outputs, idempotency keys, issued documents, callbacks, signing sessions
               (SQLite or PostgreSQL)
    problems   RFC 9457 problem kinds
    models     request and response bodies (the OpenAPI's source)
    cli        ``serve``, ``keys create``, ``worker --jobs``

The server process never imports WeasyPrint or Typst: ``msedocs serve`` replaces itself with
``python -m msedocs.api`` (see :mod:`.cli`), which loads only this package and the model.
"""

"""Use cases: what the REST API, the dashboard, the CLI and the jobs ask the service to do.

Each module is one area an operator or a client works with: ``subscriptions`` and
``subscription_edits``; ``access``, ``passwords`` and ``throttle`` (who may do what);
``search``, ``export``, ``trace``, ``replay`` and ``dead_letters`` (the delivery history);
``dashboard`` (its figures); ``logimport`` with ``logparse`` (importing history). They
validate what they are given and call the engine; they hold no HTTP or HTML.

May import: the delivery engine (``app.delivery``), ``app.search``, ``app.sinks``,
``app.events`` and the layers below them. Never the interfaces (``app.api``,
``app.admin``, ``app.cli``, ``jobs``), which call it.
"""

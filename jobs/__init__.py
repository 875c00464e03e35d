"""RQ job functions. Each takes ids, runs inside the app context, and calls services.

May import: the use cases and the delivery engine, and the layers below them: jobs are
an interface, as the REST API is.
"""

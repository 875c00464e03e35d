"""RQ job functions. Each takes ids, runs inside the app context, and calls services."""

"""Use cases: what the API, dashboard, CLI and jobs ask the service to do."""

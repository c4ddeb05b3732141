"""The worker: runs under the *app's* interpreter, imports the app's models, reports JSON.

Rules that keep it safe to run in someone else's environment:
- standard library and SQLAlchemy (1.4 or 2.x) only; Alembic where importable;
- never imports the daemon (``sidecar.*`` outside this package): it is loaded under the
  private name ``_sidecar_worker`` by the runner's bootstrap, so no app module can clash;
- Python 3.8-compatible syntax, since the app's interpreter may be older than ours;
- results travel on the inherited pipe named in the config, never on stdout.
"""

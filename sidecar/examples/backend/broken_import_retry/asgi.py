"""Entry point the server loads -- BROKEN: retries a failed model import.

The incident's "second failure" as it most likely happened. A warmup thread builds the Flask
app; it fails inside ``server/models_sql.py`` (``SecurityEvent.metadata``), the traceback
goes to a log nobody reads, and the main thread calls ``get_flask_app()`` again. Python has
dropped the half-executed ``server.models_sql`` from ``sys.modules``, so the retry runs the
file from the top -- but the classes above ``SecurityEvent`` are still registered in the one
``db.metadata``. The error that reaches the container log is the misleading one:

    SAWarning: This declarative base already contains a class with the same class name and
    module name as server.models_sql.Business, and will be replaced in the string-lookup table.
    sqlalchemy.exc.InvalidRequestError: Table 'business' is already defined for this
    MetaData instance. ...

Fix: the root cause, ``metadata = db.Column(...)`` in server/models_sql.py. A lock around
``get_flask_app()`` (the incident's fix 2) does not help; not retrying an import does.
"""

import logging
import threading

log = logging.getLogger("asgi")

flask_app = None


def get_flask_app():
    global flask_app
    if flask_app is None:
        from server.app_factory import create_app

        flask_app = create_app()
    return flask_app


def _warmup() -> None:
    try:
        get_flask_app()
    except Exception:
        log.exception("warmup failed; the first caller will retry")


_warmup_thread = threading.Thread(target=_warmup, name="warmup", daemon=True)
_warmup_thread.start()
_warmup_thread.join(timeout=30)

application = get_flask_app()

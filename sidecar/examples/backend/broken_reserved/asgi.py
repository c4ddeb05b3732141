"""Entry point the server loads -- BROKEN (the incident's asgi.py before its fix 2).

The Flask app is built on first use, by a warm-up thread the server starts or by the first
request. Nothing stops both from passing ``if flask_app is None`` before either has built
it: two apps, and the models' module run twice if anything re-imports it. Once the models
import (fix ``SecurityEvent.metadata`` first), ``sidecar check --app-getter
asgi:get_flask_app`` reports it (SQLA182) at ``get_flask_app``'s ``def`` and that check.
"""

import threading

flask_app = None


def get_flask_app():
    global flask_app
    if flask_app is None:  # not thread-safe
        from server.app_factory import create_app

        flask_app = create_app()
    return flask_app


def warm_up() -> threading.Thread:
    """Build the app in the background while the server starts accepting requests."""
    thread = threading.Thread(target=get_flask_app, name="warmup", daemon=True)
    thread.start()
    return thread

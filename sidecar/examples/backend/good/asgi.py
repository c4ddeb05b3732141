"""Entry point the server loads (the incident's asgi.py after its fix).

The Flask app is built on first use, by a warm-up thread the server starts or by the first
request, whichever comes first: the lock and the second check inside it make sure only one
of them builds it (``sidecar check --app-getter asgi:get_flask_app`` passes).
"""

import threading

flask_app = None
flask_app_lock = threading.Lock()


def get_flask_app():
    global flask_app
    if flask_app is None:
        with flask_app_lock:
            if flask_app is None:  # another thread may have built it while we waited
                from server.app_factory import create_app

                flask_app = create_app()
    return flask_app


def warm_up() -> threading.Thread:
    """Build the app in the background while the server starts accepting requests."""
    thread = threading.Thread(target=get_flask_app, name="warmup", daemon=True)
    thread.start()
    return thread

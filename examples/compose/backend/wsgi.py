"""The example backend's web process: a Flask app on the incident's models.

``/healthz`` answers at once, before and whatever the models do (the incident's own health
endpoint, "immediate check, no Flask required"); that is why it cannot be the container's
health. The models are imported at start; a failure is logged and the app keeps serving 503.
"""

import logging
import os
import traceback

from flask import Flask, jsonify

logging.basicConfig(level=logging.INFO, format="backend %(levelname)s %(message)s")
log = logging.getLogger("backend")

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite://")
models_error = None
try:
    from server import models_plain, models_sql  # noqa: F401
    from server.db import db

    db.init_app(app)
except Exception as exc:  # the incident: the models do not import
    models_error = f"{type(exc).__name__}: {exc}"
    log.error("models failed to import:\n%s", traceback.format_exc())


@app.get("/healthz")
def healthz():
    return "ok\n"


@app.get("/")
def index():
    if models_error:
        return jsonify(error=models_error), 503
    return jsonify(service="backend", tables=sorted(db.metadata.tables))


if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("0.0.0.0", int(os.environ.get("BACKEND_PORT", "8000")), app, threaded=True)

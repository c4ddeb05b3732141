"""Flask app factory of the example backend.

The models are imported once, at module level; the factory only binds them to a new app, so
a second app in one process (a test run, a warm-up) registers nothing twice.
"""

import os

from flask import Flask

from server import models_plain, models_sql  # noqa: F401  (registers the tables, once)
from server.db import db


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite://")
    db.init_app(app)
    return app

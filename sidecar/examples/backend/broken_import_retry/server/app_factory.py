"""Flask app factory. Importing the models happens here, on the first ``create_app()``."""

import os

from flask import Flask


def create_app() -> Flask:
    from server.db import db
    from server import models_plain, models_sql  # noqa: F401  (registers the tables)

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite://")
    db.init_app(app)
    return app

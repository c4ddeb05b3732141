"""Flask app factory of the example backend -- BROKEN: imports ``models_sql`` twice.

The incident's second failure. Old worker scripts in ``server/`` were run as
``python server/worker.py`` and did ``import models_sql``; to keep them working someone put
this folder on ``sys.path``. Now the same file is importable as two modules,
``models_sql`` and ``server.models_sql``, and each import executes the class bodies again
against the one shared ``db.metadata`` (``server.extensions`` is imported once):

    sqlalchemy.exc.InvalidRequestError: Table 'business' is already defined for this
    MetaData instance.  Specify 'extend_existing=True' to redefine options and columns on
    an existing Table object.

Fix: delete the ``sys.path`` line and import ``server.models_sql`` only.
"""

import os
import sys

from flask import Flask

# Legacy: lets ``import models_sql`` work for scripts that live in server/.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from server.extensions import db  # noqa: E402
from server import models_sql  # noqa: E402,F401  (first copy: module 'server.models_sql')
import models_sql as legacy_models  # noqa: E402,F401  (second copy: module 'models_sql')


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite://")
    db.init_app(app)
    return app


app = create_app()

"""The app's async driver (asyncpg, psycopg's async mode, aiomysql, asyncmy) under the checks'
synchronous code.

An async app's URL (``postgresql+asyncpg://``) names a driver whose every call awaits.
SQLAlchemy (1.4-2.1) runs synchronous engine code over such a driver inside a greenlet that
``greenlet_spawn`` starts under a running event loop: each driver call is handed to the
loop (``await_only``) and the greenlet resumes with its result. ``AsyncConnection.run_sync``
does exactly this, and so does Alembic's async ``env.py`` template; here one event loop
serves every database check of the worker (the pool's connections belong to the loop that
opened them), and each check runs whole in one greenlet, so the database, migrations and
drift checks read the same as with a sync driver: same queries, same session limits.

Called without a greenlet, the same code raises ``MissingGreenlet: greenlet_spawn has not
been called`` - what sidecar reported for an async URL before.

SQLite is not bridged: the checks open the file through the standard ``sqlite3`` module
(read-only, ``mode=ro``), the same library aiosqlite wraps.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any, Callable, Optional, TypeVar

from ... import compat

T = TypeVar("T")


def is_async_url(url: Any) -> bool:
    """The URL's dialect is an asyncio one (``is_async``, SQLAlchemy 1.4+); False for one
    SQLAlchemy cannot load (the database check says why) and for SQLite (not bridged)."""
    try:
        if url.get_backend_name() == "sqlite":
            return False
        return bool(getattr(url.get_dialect(), "is_async", False))
    except Exception:
        return False


def greenlet_missing() -> Optional[str]:
    """Why SQLAlchemy cannot drive an async driver in this interpreter, or None."""
    try:
        importlib.import_module("greenlet")  # SQLAlchemy's asyncio support requires it
    except Exception as exc:  # ImportError, or a build for another interpreter
        return "%s: %s" % (type(exc).__name__, exc)
    try:
        from sqlalchemy.util import greenlet_spawn  # noqa: F401  - 1.4+
    except ImportError as exc:
        return "%s: %s" % (type(exc).__name__, exc)
    return None


# aiomysql and asyncmy bound only the TCP connect with connect_timeout (aiomysql 0.2,
# asyncmy 0.2): the server's greeting and the authentication are awaited with no limit, so
# a server that accepts and never answers (hung, a proxy without a backend) holds the check
# until the worker is killed. SQLAlchemy 2.0.16+ lets the dbapi's connect take the driver's
# coroutine from ``async_creator_fn``; older ones connect unbounded (the worker's timeout).
BOUNDED_CONNECT_DRIVERS = ("aiomysql", "asyncmy")


def bounded_connect(driver: str, timeout_s: float) -> Optional[Callable[..., Any]]:
    """A ``do_connect`` listener that gives the whole connect - TCP, greeting, login - the
    connect timeout, for the async drivers that bound only the TCP part; None elsewhere."""
    import sqlalchemy

    if driver not in BOUNDED_CONNECT_DRIVERS or \
            compat.version_tuple(sqlalchemy.__version__) < (2, 0, 16):
        return None

    def do_connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        dbapi = getattr(dialect, "loaded_dbapi", None) or dialect.dbapi
        module = getattr(dbapi, driver, None)
        if module is None:  # not the adapter this was written for: connect as usual
            return None

        async def connect(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.wait_for(module.connect(*args, **kwargs), timeout_s)

        return dbapi.connect(*cargs, async_creator_fn=connect, **cparams)

    return do_connect


def run_on_database(ctx: Any, fn: Callable[[], T]) -> T:
    """``fn()`` - a check that uses the engine - in the async bridge when the configured URL
    names an async driver and SQLAlchemy can drive it here; directly otherwise (a sync
    driver, or a URL the database check will report)."""
    if ctx.async_bridge is None:
        from ... import compat

        text = ctx.config.get("database_url")
        try:
            url = compat.make_url(str(text).strip())
        except Exception:
            return fn()
        if not is_async_url(url) or greenlet_missing() is not None:
            return fn()
        ctx.async_bridge = AsyncBridge()

        def close() -> None:  # registered before the engine's: runs after its dispose
            bridge, ctx.async_bridge = ctx.async_bridge, None
            if bridge is not None:
                bridge.close()

        ctx.on_cleanup(close)
    bridge: AsyncBridge = ctx.async_bridge
    return bridge.run(fn)


class AsyncBridge:
    """One event loop for the worker's life; ``run(fn)`` calls ``fn()`` in a greenlet on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, fn: Callable[[], T]) -> T:
        from sqlalchemy.util import greenlet_spawn

        return self.loop.run_until_complete(greenlet_spawn(fn))

    def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.close()

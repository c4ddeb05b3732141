"""What the tests share: the CLI runner, the PostgreSQL cluster, the daemon driver.

Imported only as ``tests.support.X`` (the repo root on sys.path, as pytest's rootdir puts it):
a second sys.path entry would make the same file importable under two names, the very bug
SQLA114 reports in users' code (tests/test_import_names.py guards it).
"""

#!/usr/bin/env bash
# Install everything the test suite needs, then run it (ruff, mypy, pytest). Safe to re-run.
# CI calls this through .ci/run on a fresh clone; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
say() { echo "scripts/test.sh: $*"; }  # one line before each install; nothing when all is there

if [ ! -x .venv/bin/python ]; then
    say "creating .venv and installing sqla-sidecar[test] (PyPI) — the suite's Python tools"
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# Debian packages the tests need, each with the reason it is installed system-wide.
declare -A why=(
    [postgresql]="the tests start their own throwaway cluster"
    [prometheus]="promtool lints the metrics and the alert rules"
    [chromium]="a headless browser renders the /diagnose page"
    [mariadb-server]="the MySQL/MariaDB tests start their own throwaway server"
    [libmariadb-dev]="the MariaDB client headers and library mysqlclient compiles against"
    [pkg-config]="mysqlclient's build finds the MariaDB client library with it"
)
apt_install() {  # apt_install PACKAGE...: say why, then install quietly
    local pkg
    for pkg in "$@"; do say "installing $pkg (Debian) — ${why[$pkg]}"; done
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The tests start their own throwaway PostgreSQL cluster; they need the server binaries.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt_install postgresql
    else
        echo "scripts/test.sh: PostgreSQL server binaries are missing (apt-get install postgresql)" >&2
        exit 2
    fi
fi

# The MariaDB tests start their own throwaway server (tests/support/mariadb.py); the
# package's own service is not started: a policy-rc.d refuses it during the install.
if ! [ -x /usr/sbin/mariadbd ]; then
    if [ "$(id -u)" = 0 ]; then
        made_policy=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            made_policy=1
        fi
        apt_install mariadb-server
        if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
    else
        echo "scripts/test.sh: mariadb-server is missing; the MariaDB tests will skip" >&2
    fi
fi

# promtool (metrics lint) and a headless browser (the /diagnose page): the tests that need
# them skip without them.
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt_install "${missing[@]}"
    else
        echo "scripts/test.sh: missing ${missing[*]}; the tests that need them will skip" >&2
    fi
fi

# mysqlclient (SQLAlchemy's mysql+mysqldb://, a bare mysql:// URL's driver) has no Linux
# wheel: pip builds it against the MariaDB client library, which it finds through
# pkg-config. Not in the [test] extra: on a fresh machine pip runs before the apt step.
if ! .venv/bin/python -c "import MySQLdb" >/dev/null 2>&1; then
    missing=()
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    [ -e /usr/include/mariadb/mysql.h ] || missing+=(libmariadb-dev)
    if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
        apt_install "${missing[@]}"
        missing=()
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "scripts/test.sh: missing ${missing[*]} to build mysqlclient; the mysqlclient" \
             "tests will skip" >&2
    else
        say "installing mysqlclient (PyPI) — the mysql+mysqldb:// driver the MariaDB tests use"
        .venv/bin/python -m pip install -q --disable-pip-version-check 'mysqlclient>=2.2'
    fi
fi

# The Docker end-to-end test's tools (engine, Compose v2, hadolint, kubernetes-validate).
if [ -f scripts/install-e2e.sh ]; then
    bash scripts/install-e2e.sh
fi

export PATH="$PWD/.venv/bin:$PATH"
ruff check .
mypy  # pyproject's [tool.mypy]: all of sidecar/ as Python 3.11
mypy --python-version 3.8 sidecar/worker  # the worker again, as a 3.8 app's interpreter runs it
# coverage of the pytest process (subprocesses are not counted: pyproject's [tool.coverage.run])
exec pytest --cov=sidecar --cov-report=term "$@"

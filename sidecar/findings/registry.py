"""The full catalog: every code family, in the order docs/findings.md lists them.

Callers use ``CATALOG`` (``CATALOG.to_finding``, ``CATALOG.lookup``, ``CATALOG.severities``);
a new family is one module under ``sidecar/findings/codes/`` and one line here.
"""

from __future__ import annotations

from sidecar.findings.catalog import Catalog
from sidecar.findings.codes import database, drift, faults, migrations, models

FAMILIES = (models.FAMILY, faults.FAMILY, database.FAMILY, migrations.FAMILY, drift.FAMILY)
CATALOG = Catalog(FAMILIES, generic=models.GENERIC)

"""The code the runner passes to ``python -c``: load this package under a private name.

Loading by file location (not ``import sidecar.worker``) means the app's interpreter needs
no sidecar installation, and no app package named ``sidecar`` or ``worker`` can shadow us.
"""

BOOTSTRAP = r"""
import importlib.util, sys
_dir = sys.argv[1]
_spec = importlib.util.spec_from_file_location(
    "_sidecar_worker", _dir + "/__init__.py", submodule_search_locations=[_dir])
_mod = importlib.util.module_from_spec(_spec)
sys.modules["_sidecar_worker"] = _mod
_spec.loader.exec_module(_mod)
del sys.argv[1:]
from _sidecar_worker.main import main
sys.exit(main())
"""

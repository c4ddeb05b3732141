import importlib.util
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def load_plugins(folder):
    """Load every module in ``folder`` (the contrib models shipped with an installation)."""
    loaded = []
    for path in sorted(Path(folder).glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"shop_plugins.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(module)
        log.info("loaded plugin %s", path.stem)
    return loaded

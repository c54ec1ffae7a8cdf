"""Public names of a package loaded on first attribute access (PEP 562), so that importing the package stays light."""

import importlib
import sys


def lazy_exports(package: str, names: dict[str, str]):
    """The `__getattr__` and `__dir__` of `package` that import each of `names` (public name -> the relative module
    that defines it) the first time it is read, and keep it in the package's namespace from then on."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name], package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__

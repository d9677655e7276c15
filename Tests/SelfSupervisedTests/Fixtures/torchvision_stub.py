"""Stands in for torchvision when the installed one cannot load (see make_lightly_fixture.py): every name
under torchvision is a placeholder class (its attributes more placeholders): it can be built (lightly builds
some as default arguments at import) but not applied."""
import importlib.abc, importlib.machinery, sys, types


class _Meta(type):
    def __getattr__(cls, name):
        if name.startswith("__"): raise AttributeError(name)
        return _placeholder(name)


def _placeholder(name):
    def call(self, *a, **k): raise NotImplementedError(f"torchvision stub: {name}")
    return _Meta(name, (), {"__init__": lambda self, *a, **k: None, "__call__": call})


class _Stub(types.ModuleType):
    __path__ = []
    def __getattr__(self, name):
        if name.startswith("__"): raise AttributeError(name)
        return _placeholder(name)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        return importlib.machinery.ModuleSpec(name, self) if name == "torchvision" or name.startswith("torchvision.") else None
    def create_module(self, spec): return _Stub(spec.name)
    def exec_module(self, module): module.__version__ = "0.0+stub"


try:
    import torchvision  # noqa: F401
except Exception:
    for k in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]: del sys.modules[k]
    sys.meta_path.insert(0, _Finder())

"""Import fastai without torchvision (PyPI's torchvision does not load on the `+cpu` torch here: its compiled
ops need a torchvision built for this exact torch). The model and data code used by the checks and the
benchmarks does not touch it; the few names fastai imports at module level are stubs that fail if called.
Import this module before fastai."""
import sys
import types


def _unavailable(name):
    def f(*args, **kwargs):
        raise RuntimeError(f"torchvision.{name} is not available in the Pretext peer environment")
    return f


for name in ["torchvision", "torchvision.models", "torchvision.transforms", "torchvision.transforms.functional",
             "torchvision.io"]:
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules["torchvision.transforms.functional"].pad = _unavailable("transforms.functional.pad")
sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
sys.modules["torchvision"].models = sys.modules["torchvision.models"]
sys.modules["torchvision.transforms"].functional = sys.modules["torchvision.transforms.functional"]

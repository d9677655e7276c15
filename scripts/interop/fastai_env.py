"""Import fastai's model code without torchvision (whose compiled ops need a torchvision built for this
exact torch; the models used here do not touch them). Import this module before fastai."""
import sys
import types

for name in ["torchvision", "torchvision.models"]:
    sys.modules.setdefault(name, types.ModuleType(name))

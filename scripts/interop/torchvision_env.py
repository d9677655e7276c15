"""Import PyPI's torchvision beside the pinned `+cpu` torch. Its compiled ops are built for PyPI's CUDA torch
and do not load here, and at import it registers meta kernels for them, which then fails ("operator
torchvision::nms does not exist"). Its transforms (PIL and tensor code, what lightly's SimCLRTransform uses)
need none of them. Skipping that one registration module lets it import; nothing that is timed uses a
compiled torchvision op. Import this before torchvision or lightly."""
import sys
import types

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

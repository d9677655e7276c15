import Torch
print(Runtime.torchVersion)

"""Records what lightly's own implementations compute on fixed inputs, for the Swift parity tests
(LightlyParityTests): NT-Xent (two temperatures, loss and input gradient), negative cosine similarity, BYOL's
symmetrised loss, update_momentum, cosine_schedule, std_of_l2_normalized, SwAV's Sinkhorn codes and loss (with
and without a queue, and its gradient), and the SimCLR/BYOL/SimSiam/SwAV heads' forward (train mode: batch
statistics) with their weights and updated running statistics, and LARS's steps.

    usage: $(scripts/pyenv.sh) -m pip install lightly==1.6.0   # once; it pulls another torch and torchvision:
           scripts/pyenv.sh; $(scripts/pyenv.sh) -m pip uninstall -y torchvision   # re-pins the torch
           $(scripts/pyenv.sh) Tests/SelfSupervisedTests/Fixtures/make_lightly_fixture.py

Made with lightly 1.6.0 and torch 2.13.0+cpu. lightly.loss imports torchvision for losses not used here; the
PyPI torchvision is built against the CUDA torch and cannot load beside the pinned CPU one, so
torchvision_stub.py stands in for it (anything from it raises). Everything recorded runs lightly's code.
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchvision_stub  # noqa: F401  (before lightly)
import torch
import lightly
from lightly.loss import NTXentLoss, NegativeCosineSimilarity
from lightly.models.utils import update_momentum
from lightly.utils.scheduler import cosine_schedule
from lightly.utils.debug import std_of_l2_normalized
from lightly.models.modules import heads
from safetensors.torch import save_file

torch.manual_seed(0)
out, meta = {}, {"lightly": lightly.__version__, "torch": torch.__version__}
n, d = 8, 16
z0, z1 = torch.randn(n, d), torch.randn(n, d)
out["z0"], out["z1"] = z0, z1
for t in (0.5, 0.1):
    a = z0.clone().requires_grad_()
    loss = NTXentLoss(temperature=t)(a, z1)
    loss.backward()
    meta[f"ntxent_{t}"] = loss.item()
    out[f"ntxent_{t}_grad_z0"] = a.grad
ncs = NegativeCosineSimilarity()
meta["negative_cosine"] = ncs(z0, z1).item()
p0, p1, t0, t1 = (torch.randn(n, d) for _ in range(4))
out.update(p0=p0, p1=p1, t0=t0, t1=t1)
meta["byol_loss"] = (0.5 * (ncs(p0, t1) + ncs(p1, t0))).item()
meta["std_of_l2_normalized"] = std_of_l2_normalized(z0).item()

online, target = torch.nn.Linear(d, 4), torch.nn.Linear(d, 4)
for k, v in online.state_dict().items(): out["online." + k] = v.clone()
for k, v in target.state_dict().items(): out["target." + k] = v.clone()
update_momentum(online, target, m=0.99)
for k, v in target.state_dict().items(): out["updated." + k] = v.clone()
meta["cosine_schedule"] = [[s, m, cosine_schedule(s, m, 0.996, 1.0)] for s, m in [(0, 10), (3, 10), (9, 10), (10, 10), (0, 1), (5, 100), (57, 100)]]

x = torch.randn(n, d)
out["x"] = x
made = {
    "simclr": heads.SimCLRProjectionHead(d, 12, 8),
    "byol": heads.BYOLProjectionHead(d, 12, 8),
    "simsiam_projector": heads.SimSiamProjectionHead(d, 12, 10),
    "simsiam_predictor": heads.SimSiamPredictionHead(d, 4, 10),
}
for name, head in made.items():
    for k, v in head.state_dict().items(): out[f"{name}.{k}"] = v.clone()
    head.train()
    out[f"{name}.output"] = head(x).detach()
    for k, v in head.state_dict().items():
        if "running" in k: out[f"{name}.after.{k}"] = v.clone()
# SwAV (drawn after everything above, so the earlier tensors stay as they were): Sinkhorn codes, the loss of
# 2 high- and 3 low-resolution crops without and with a queue (and its gradient), the projection head.
from lightly.loss import SwaVLoss
from lightly.loss.swav_loss import sinkhorn
k, m = 10, 16
cosines = lambda rows: torch.rand(rows, k) * 2 - 1  # prototype scores are cosines
out["swav_scores"] = cosines(n)
out["swav_sinkhorn"] = sinkhorn(out["swav_scores"], iterations=3, epsilon=0.05)
for i in range(2): out[f"swav_high{i}"] = cosines(n)
for i in range(3): out[f"swav_low{i}"] = cosines(n)
for i in range(2): out[f"swav_queue{i}"] = cosines(m)
for name, queue in (("swav_loss", None), ("swav_loss_queue", [out["swav_queue0"], out["swav_queue1"]])):
    high = [out[f"swav_high{i}"].clone().requires_grad_() for i in range(2)]
    loss = SwaVLoss(temperature=0.1, sinkhorn_iterations=3, sinkhorn_epsilon=0.05)(high, [out[f"swav_low{i}"] for i in range(3)], queue)
    loss.backward()
    meta[name] = loss.item()
    out[name + "_grad_high0"] = high[0].grad
head = heads.SwaVProjectionHead(d, 12, 8)
for k_, v in head.state_dict().items(): out[f"swav.{k_}"] = v.clone()
head.train()
out["swav.output"] = head(x).detach()
for k_, v in head.state_dict().items():
    if "running" in k_: out[f"swav.after.{k_}"] = v.clone()
# LARS (drawn last): 3 steps on a weight (weight decay 0.1: trust-ratio scaled) and a bias (a group without
# weight decay: plain SGD), momentum 0.9; the second step's weight gradient is zero (no scaling then).
from lightly.utils.lars import LARS
pw, pb = torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(4))
out["lars.w0"], out["lars.b0"] = pw.detach().clone(), pb.detach().clone()
opt = LARS([{"params": [pw], "weight_decay": 0.1}, {"params": [pb], "weight_decay": 0.0}], lr=0.5, momentum=0.9)
for i in range(3):
    gw, gb = (torch.zeros(4, 3) if i == 1 else torch.randn(4, 3)), torch.randn(4)
    out[f"lars.gw{i}"], out[f"lars.gb{i}"] = gw, gb
    pw.grad, pb.grad = gw.clone(), gb.clone()
    opt.step()
out["lars.w3"], out["lars.b3"] = pw.detach().clone(), pb.detach().clone()
save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lightly_parity.safetensors"),
          metadata={"reference": json.dumps(meta)})
print(json.dumps(meta, indent=1))

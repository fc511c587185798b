"""torch.func side of the transformation benchmark: LeNet (3x32x32, 10 classes), batch B, mean
cross-entropy. Median ms of: a gradient, a Hessian-vector product (forward over reverse,
torch.func's recommended hvp), per-example gradients (vmap(grad)). One JSON line per timing.

    python benchmarks/transforms_torch.py [--batch 128] [--reps 20]
"""
import argparse, json, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, jvp, vmap

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=128)
p.add_argument("--reps", type=int, default=20)
a = p.parse_args()
torch.manual_seed(0)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


m = LeNet()
params = {k: v.detach() for k, v in m.named_parameters()}
x = torch.randn(a.batch, 3, 32, 32)
y = torch.randint(0, 10, (a.batch,))
v = {k: torch.randn_like(t) for k, t in params.items()}


def loss(ps, x, y):
    return F.cross_entropy(functional_call(m, ps, (x,)), y)


def one(ps, x, y):
    return loss(ps, x.unsqueeze(0), y.unsqueeze(0))


work = {
    "grad": lambda: grad(loss)(params, x, y),
    "hvp": lambda: jvp(lambda ps: grad(loss)(ps, x, y), (params,), (v,))[1],
    "per_example_grads": lambda: vmap(grad(one), in_dims=(None, 0, 0))(params, x, y),
}
for name, f in work.items():
    for _ in range(3):
        f()
    ts = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"impl": "torch.func", "torch": torch.__version__, "threads": torch.get_num_threads(), "work": name, "batch": a.batch, "median_ms": statistics.median(ts)}))

#!/usr/bin/env python3
"""Loads deepq weights files into PyTorch and checks that the outputs equal deepq's.

For each fixture NAME in tests/data/ (written by `cargo test --test weights -- --ignored
write_fixtures`):
  NAME.safetensors          the weights saved by deepq's Mlp::save
  NAME.deepq_outputs.txt    inputs and deepq's outputs on them
this script rebuilds the network from the file's metadata as a torch module holding its
nn.Linear layers in a `layers` list, loads the tensors with load_state_dict(strict=True),
runs the inputs, asserts the outputs equal deepq's (rtol 1e-6, atol 1e-7), and writes
  NAME.torch_outputs.txt    the same inputs and PyTorch's outputs
which tests/weights.rs compares with deepq in turn.

Run: python3 scripts/check_safetensors_torch.py   (needs torch, numpy, safetensors)
"""
import os
import struct
import sys

import numpy as np
import safetensors
import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file

torch.set_num_threads(1)
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
FIXTURES = ["mlp_relu_identity", "mlp_tanh_softmax"]


class Net(nn.Module):
    def __init__(self, meta):
        super().__init__()
        hidden = [int(h) for h in meta["hidden"].split(",") if h]
        sizes = [int(meta["input_dim"])] + hidden + [int(meta["output_dim"])]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = {"relu": torch.relu, "tanh": torch.tanh}[meta["activation"]]
        self.softmax = meta["output"] == "softmax"

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = self.activation(x)
        return torch.softmax(x, dim=1) if self.softmax else x


def read_matrices(path):
    out = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#") or line.split()[0] in ("case", "end"):
                continue
            key, kind, shape, *values = line.split()
            assert kind == "f32"
            dims = [int(d) for d in shape.split(",")]
            a = np.array([struct.unpack("<f", struct.pack("<I", int(v, 16)))[0] for v in values],
                         dtype=np.float32)
            out[key] = a.reshape(dims)
    return out


def hexes(a):
    return " ".join(format(struct.unpack("<I", struct.pack("<f", float(v)))[0], "08x")
                    for v in np.asarray(a, dtype=np.float32).ravel())


def main():
    for name in FIXTURES:
        path = os.path.join(DATA, name + ".safetensors")
        with safe_open(path, framework="pt") as f:
            meta = f.metadata()
        tensors = load_file(path)
        net = Net(meta)
        net.load_state_dict(tensors, strict=True)
        deepq = read_matrices(os.path.join(DATA, name + ".deepq_outputs.txt"))
        x = torch.from_numpy(deepq["inputs"])
        with torch.no_grad():
            y = net(x).numpy()
        np.testing.assert_allclose(y, deepq["outputs"], rtol=1e-6, atol=1e-7)
        print(f"{name}: {sorted(tensors)} -> outputs equal deepq's, "
              f"max abs diff {np.abs(y - deepq['outputs']).max():.3g}")
        with open(os.path.join(DATA, name + ".torch_outputs.txt"), "w") as f:
            f.write(f"# PyTorch outputs of {name}.safetensors, written by "
                    "scripts/check_safetensors_torch.py\n")
            f.write(f"# python {sys.version.split()[0]}, torch {torch.__version__}, "
                    f"safetensors {safetensors.__version__}, numpy {np.__version__}\n")
            f.write("case torch\n")
            f.write(f"inputs f32 {','.join(map(str, x.shape))} {hexes(x.numpy())}\n")
            f.write(f"outputs f32 {','.join(map(str, y.shape))} {hexes(y)}\n")
            f.write("end\n")


if __name__ == "__main__":
    main()

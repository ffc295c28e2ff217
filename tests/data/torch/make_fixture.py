#!/usr/bin/env python3
"""PyTorch state dicts for deepq's import and export (tests/torch_import.rs).

Made with Python 3.11.7, torch 2.15.0+cu132 (the PyPI build, run on the CPU, one thread),
safetensors 0.8.0 and numpy 2.4.6 (pinned in requirements.txt beside this script); every run
writes the versions it used into torch_outputs.json.

1. PyTorch -> deepq. Builds small Q-networks with a fixed torch seed (PyTorch's default
   nn.Linear initialisation, so the biases are not zero), saves each with
   `safetensors.torch.save_file(model.state_dict(), path)` and no metadata, as a user would:

     q_f32.safetensors      nn.Sequential(Linear(4, 64), ReLU, Linear(64, 64), ReLU,
                            Linear(64, 2)): names 0.weight, 0.bias, 2.weight, ..., 4.bias
     q_f64.safetensors      the same network converted with .double()
     q_f16.safetensors      ... with .half()
     q_bf16.safetensors     ... with .bfloat16()
     q_layers.safetensors   the same weights in a module holding an nn.ModuleList `layers`:
                            names layers.0.weight, ..., layers.2.bias (deepq's own names)
     tanh_softmax_prefixed.safetensors
                            a module holding `net = nn.Sequential(Linear(3, 8), Tanh,
                            Linear(8, 8), Tanh, Linear(8, 4), Softmax(dim=-1))`: names
                            net.0.weight, ..., net.4.bias
     dropout.safetensors    nn.Sequential(Linear(4, 16), ReLU, Dropout(0.2), Linear(16, 16),
                            ReLU, Dropout(0.2), Linear(16, 3)): names 0.*, 3.*, 6.*
     linear.safetensors     nn.Sequential(Linear(2, 3)): no hidden layer

   and torch_outputs.json: for each file, the architecture (as deepq's MlpConfig fields), the
   tensor names, a batch of input states (float32) and PyTorch's outputs for them. The outputs
   are those of the float32 module after `load_state_dict({k: v.float() ...})` of the tensors
   read back with `safetensors.torch.load_file`, in eval mode (dropout off) under no_grad: what
   deepq computes (it converts F64 to the nearest f32 and F16/BF16 exactly, then works in f32).
   Floats are written as JSON numbers: the shortest decimal that reads back to the same double,
   which is the float32 value exactly.

2. deepq -> PyTorch. If deepq_export.safetensors is here (written by deepq's
   `Mlp::save_torch`: `cargo test --release --test torch_import -- --ignored write_deepq_export`,
   which also writes deepq_outputs.json with inputs and deepq's outputs), loads it with
   `safetensors.torch.load_file` into nn.Sequential(Linear(4, 64), ReLU, Linear(64, 64), ReLU,
   Linear(64, 2)) with `load_state_dict(strict=True)`, asserts that PyTorch's outputs equal
   deepq's (rtol 1e-5, atol 1e-6) and records PyTorch's outputs in torch_outputs.json under
   "deepq_export". It also asserts that a file of deepq's own format (Mlp::save:
   tests/data/mlp_relu_identity.safetensors, names layers.N.*) is refused by an nn.Sequential
   with strict=True, the reason the export exists.

Run from the repository root, twice when the export changed (the second run checks the new
deepq_export.safetensors):
    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install -r tests/data/torch/requirements.txt
    /tmp/torchvenv/bin/python tests/data/torch/make_fixture.py
Python is never needed to build or test deepq: every file it writes is committed.
"""
import json
import os
import sys

import numpy as np
import safetensors
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
BATCH = 16


def q_sequential():
    return nn.Sequential(
        nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)
    )


class LayersList(nn.Module):
    """deepq's own naming: the linear layers in a ModuleList called `layers`."""

    def __init__(self, sizes, activation):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = self.activation(x)
        return x


class Prefixed(nn.Module):
    """A Q-network held as an attribute: every name starts with `net.`."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4),
            nn.Softmax(dim=-1),
        )

    def forward(self, x):
        return self.net(x)


def arch(input_dim, hidden, output_dim, activation="relu", output="identity"):
    return {
        "input_dim": input_dim,
        "hidden": hidden,
        "output_dim": output_dim,
        "activation": activation,
        "output": output,
    }


def inputs(generator, dim):
    # States of CartPole's scale and a little beyond: N(0, 1.5^2).
    return (torch.randn(BATCH, dim, generator=generator) * 1.5).float()


def outputs_of(make_module, path, x):
    """PyTorch's float32 outputs of a fresh module loaded from the file at `path`."""
    module = make_module()
    state = {k: v.float() for k, v in load_file(path).items()}
    module.load_state_dict(state, strict=True)
    module.eval()
    with torch.no_grad():
        return module(x)


def as_list(t):
    return [[float(v) for v in row] for row in t.numpy().astype(np.float32)]


def case(name, make_module, state_dict, config, x, dtype):
    path = os.path.join(HERE, name + ".safetensors")
    save_file({k: v.contiguous() for k, v in state_dict.items()}, path)
    y = outputs_of(make_module, path, x)
    return {
        "file": name + ".safetensors",
        "dtype": dtype,
        "config": config,
        "names": sorted(state_dict),
        "inputs": as_list(x),
        "outputs": as_list(y),
    }


def check_deepq_export(report):
    path = os.path.join(HERE, "deepq_export.safetensors")
    outputs_path = os.path.join(HERE, "deepq_outputs.json")
    if not os.path.exists(path):
        print("deepq_export.safetensors is missing: the export was not checked")
        return
    with open(outputs_path) as f:
        deepq = json.load(f)
    tensors = load_file(path)
    module = q_sequential()
    module.load_state_dict(tensors, strict=True)  # raises on a missing or unexpected key
    x = torch.tensor(deepq["inputs"], dtype=torch.float32)
    with torch.no_grad():
        y = module(x).numpy()
    theirs = np.array(deepq["outputs"], dtype=np.float32)
    np.testing.assert_allclose(y, theirs, rtol=1e-5, atol=1e-6)
    diff = float(np.abs(y - theirs).max())
    print(f"deepq_export.safetensors: {sorted(tensors)} loads into nn.Sequential "
          f"(strict=True); outputs equal deepq's, max abs diff {diff:.3g}")
    report["deepq_export"] = {
        "file": "deepq_export.safetensors",
        "names": sorted(tensors),
        "dtypes": sorted({str(t.dtype) for t in tensors.values()}),
        "inputs": deepq["inputs"],
        "outputs": as_list(torch.from_numpy(y)),
        "max_abs_diff_to_deepq": diff,
    }

    # deepq's own format does not fit an nn.Sequential: its names are layers.N.*.
    own = os.path.join(HERE, "..", "mlp_relu_identity.safetensors")
    sequential = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(),
                               nn.Linear(8, 3))
    try:
        sequential.load_state_dict(load_file(own), strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if "\n" in str(e) else str(e)
        print(f"as expected, Mlp::save's own file does not load into nn.Sequential: {first}")
    else:
        raise AssertionError("Mlp::save's file loaded into nn.Sequential: update the docs")


def main():
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED + 1)
    cases = []

    q = q_sequential()
    q_state = q.state_dict()
    x = inputs(generator, 4)
    config = arch(4, [64, 64], 2)
    cases.append(case("q_f32", q_sequential, q_state, config, x, "F32"))
    for name, dtype, convert in [
        ("q_f64", "F64", lambda t: t.double()),
        ("q_f16", "F16", lambda t: t.half()),
        ("q_bf16", "BF16", lambda t: t.bfloat16()),
    ]:
        state = {k: convert(v) for k, v in q_state.items()}
        cases.append(case(name, q_sequential, state, config, x, dtype))

    layers = LayersList([4, 64, 64, 2], torch.relu)
    # The same weights: Sequential index 2*l is layers[l].
    layers.load_state_dict(
        {f"layers.{int(k.split('.')[0]) // 2}.{k.split('.')[1]}": v for k, v in q_state.items()},
        strict=True,
    )
    cases.append(case("q_layers", lambda: LayersList([4, 64, 64, 2], torch.relu),
                      layers.state_dict(), config, x, "F32"))

    prefixed = Prefixed()
    cases.append(case("tanh_softmax_prefixed", Prefixed, prefixed.state_dict(),
                      arch(3, [8, 8], 4, "tanh", "softmax"), inputs(generator, 3), "F32"))

    def dropout_net():
        return nn.Sequential(
            nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 16), nn.ReLU(),
            nn.Dropout(0.2), nn.Linear(16, 3),
        )

    cases.append(case("dropout", dropout_net, dropout_net().state_dict(), arch(4, [16, 16], 3),
                      inputs(generator, 4), "F32"))

    def linear():
        return nn.Sequential(nn.Linear(2, 3))

    cases.append(case("linear", linear, linear().state_dict(), arch(2, [], 3),
                      inputs(generator, 2), "F32"))

    report = {
        "made_by": "tests/data/torch/make_fixture.py",
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "seed": SEED,
        "cases": cases,
    }
    check_deepq_export(report)
    with open(os.path.join(HERE, "torch_outputs.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    for c in cases:
        print(f"{c['file']}: {c['dtype']}, {c['names']}")


if __name__ == "__main__":
    main()

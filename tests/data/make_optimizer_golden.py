#!/usr/bin/env python3
"""Golden values for deepq's Mlp training steps, computed with PyTorch.

Writes tests/data/optimizer_golden.txt, read by tests/optimizer.rs. Every case fixes an MLP's
weights and a batch, then takes three training steps with a PyTorch optimizer on the loss deepq
implements; the file records the loss and TD errors of the first step and the parameters after
the first and the third step.

Format, one item a line (# starts a comment):
    case <name>
    <key> f32 <shape> <values as IEEE-754 bit patterns in hex>
    <key> usize <shape> <decimal values>
    <key> str - <value>
    end
Shapes are comma-separated dims, or `-` for a scalar.

Run: python3 tests/data/make_optimizer_golden.py   (needs torch and numpy)
"""
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "optimizer_golden.txt")
STEPS = 3


class Net(nn.Module):
    """deepq's Mlp: nn.Linear layers in a `layers` list, activation between them."""

    def __init__(self, sizes, activation):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = {"relu": torch.relu, "tanh": torch.tanh}[activation]

    def forward(self, x):  # the logits: before the output transform
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = self.activation(x)
        return x


def hexes(t):
    a = np.asarray(t, dtype=np.float32).ravel()
    return " ".join(format(struct.unpack("<I", struct.pack("<f", float(v)))[0], "08x") for v in a)


def shape(t):
    s = np.asarray(t).shape
    return ",".join(str(d) for d in s) if s else "-"


def make_optimizer(name, params, opts):
    if name == "sgd":
        return torch.optim.SGD(params, lr=opts["lr"], momentum=opts.get("momentum", 0.0),
                               nesterov=opts.get("nesterov", False))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=opts["lr"], alpha=opts.get("alpha", 0.99),
                                   eps=opts.get("eps", 1e-8), momentum=opts.get("momentum", 0.0),
                                   centered=opts.get("centered", False))
    if name == "adam":
        return torch.optim.Adam(params, lr=opts["lr"],
                                betas=(opts.get("beta1", 0.9), opts.get("beta2", 0.999)),
                                eps=opts.get("eps", 1e-8))
    raise ValueError(name)


def q_loss(net, x, actions, targets, weights, loss, output):
    out = net(x)
    q = torch.softmax(out, dim=1) if output == "softmax" else out
    num_actions = q.shape[1]
    qa = q.gather(1, actions[:, None]).squeeze(1)
    td = (targets - qa).detach()
    if loss == "keras_masked_mse":
        # Keras' literal form: mse over batch and actions of the masked outputs.
        mask = F.one_hot(actions, num_actions).to(q.dtype)
        per = ((mask * q - mask * targets[:, None]) ** 2).mean(dim=1)
    elif loss == "masked_mse":
        per = F.mse_loss(qa, targets, reduction="none")
    elif loss == "huber":
        per = F.smooth_l1_loss(qa, targets, reduction="none", beta=1.0)
    else:
        raise ValueError(loss)
    if weights is None:
        value = per.mean()
    else:
        value = (weights * per).mean()
    return value, td


def run_case(f, name, sizes, activation, output, loss, opt_name, opts, seed,
             weighted=False, max_grad_norm=None, batch=6):
    rng = np.random.default_rng(seed)
    net = Net(sizes, activation)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.copy_(torch.from_numpy(
                rng.uniform(-0.8, 0.8, layer.weight.shape).astype(np.float32)))
            layer.bias.copy_(torch.from_numpy(
                rng.uniform(-0.2, 0.2, layer.bias.shape).astype(np.float32)))
    x = torch.from_numpy(rng.normal(0, 1, (batch, sizes[0])).astype(np.float32))
    n_out = sizes[-1]
    labels = torch.from_numpy(rng.integers(0, n_out, batch)).long()
    targets = torch.from_numpy(rng.uniform(-2, 3, batch).astype(np.float32))
    weights = (torch.from_numpy(rng.uniform(0.1, 2.0, batch).astype(np.float32))
               if weighted else None)

    f.write(f"case {name}\n")
    f.write(f"sizes usize {len(sizes)} {' '.join(map(str, sizes))}\n")
    for key, value in [("activation", activation), ("output", output), ("loss", loss),
                       ("optimizer", opt_name)]:
        f.write(f"{key} str - {value}\n")
    for key, value in sorted(opts.items()):
        if isinstance(value, bool):
            f.write(f"opt.{key} str - {str(value).lower()}\n")
        else:
            f.write(f"opt.{key} f32 - {hexes(value)}\n")
    if max_grad_norm is not None:
        f.write(f"max_grad_norm f32 - {hexes(max_grad_norm)}\n")
    for i, layer in enumerate(net.layers):
        f.write(f"init.layers.{i}.weight f32 {shape(layer.weight.detach())} "
                f"{hexes(layer.weight.detach())}\n")
        f.write(f"init.layers.{i}.bias f32 {shape(layer.bias.detach())} "
                f"{hexes(layer.bias.detach())}\n")
    f.write(f"states f32 {shape(x)} {hexes(x)}\n")
    f.write(f"labels usize {batch} {' '.join(str(int(v)) for v in labels)}\n")
    if loss != "cross_entropy":
        f.write(f"targets f32 {batch} {hexes(targets)}\n")
    if weights is not None:
        f.write(f"weights f32 {batch} {hexes(weights)}\n")

    opt = make_optimizer(opt_name, net.parameters(), opts)
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        if loss == "cross_entropy":
            value = F.cross_entropy(net(x), labels)
            td = None
        else:
            value, td = q_loss(net, x, labels, targets, weights, loss, output)
        value.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), max_grad_norm)
        opt.step()
        if step == 1:
            f.write(f"step1.loss f32 - {hexes(value.item())}\n")
            if td is not None:
                f.write(f"step1.td f32 {batch} {hexes(td)}\n")
        if step in (1, STEPS):
            for i, layer in enumerate(net.layers):
                for part in ("weight", "bias"):
                    t = getattr(layer, part).detach()
                    f.write(f"step{step}.layers.{i}.{part} f32 {shape(t)} {hexes(t)}\n")
    f.write("end\n")


def main():
    with open(OUT, "w") as f:
        f.write("# Golden training steps for deepq's Mlp, written by "
                "tests/data/make_optimizer_golden.py\n")
        f.write(f"# python {sys.version.split()[0]}, torch {torch.__version__}, "
                f"numpy {np.__version__}, float32, torch.set_num_threads(1)\n")
        s = [3, 5, 4, 2]
        run_case(f, "sgd_mse", s, "relu", "identity", "masked_mse", "sgd", {"lr": 0.1}, 1)
        run_case(f, "sgd_momentum_huber_weighted", s, "relu", "identity", "huber", "sgd",
                 {"lr": 0.05, "momentum": 0.9}, 2, weighted=True)
        run_case(f, "sgd_nesterov_keras_tanh", [3, 5, 4, 3], "tanh", "identity",
                 "keras_masked_mse", "sgd", {"lr": 0.1, "momentum": 0.8, "nesterov": True}, 3)
        run_case(f, "rmsprop_mse", s, "relu", "identity", "masked_mse", "rmsprop",
                 {"lr": 0.01}, 4)
        run_case(f, "rmsprop_centered_momentum_huber_tanh", s, "tanh", "identity", "huber",
                 "rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-7, "momentum": 0.5,
                             "centered": True}, 5, weighted=True)
        run_case(f, "adam_mse", s, "relu", "identity", "masked_mse", "adam", {"lr": 0.01}, 6)
        run_case(f, "adam_huber_weighted_clipped", s, "relu", "identity", "huber", "adam",
                 {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-7}, 7, weighted=True,
                 max_grad_norm=0.5)
        run_case(f, "adam_softmax_output_mse", [3, 6, 3], "tanh", "softmax", "masked_mse",
                 "adam", {"lr": 0.01}, 8)
        run_case(f, "sgd_clipped_mse", s, "relu", "identity", "masked_mse", "sgd",
                 {"lr": 0.1}, 9, max_grad_norm=0.3)
        run_case(f, "classifier_cross_entropy_adam", [3, 6, 4], "relu", "softmax",
                 "cross_entropy", "adam", {"lr": 0.01}, 10, batch=8)
    print("wrote", OUT)


if __name__ == "__main__":
    main()

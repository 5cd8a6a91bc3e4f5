"""Tests for reference/toy1d.py: shapes and parameter counts, repeatability, snapshots, convergence."""

from __future__ import annotations

import pytest
import torch

from reference.errors import UserError
from reference.toy1d import Toy1DConfig, build_toy1d, train_toy1d


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_shapes_and_parameter_counts():
    G, D = build_toy1d(Toy1DConfig())
    assert (_count(G), _count(D)) == (1377, 1153), "defaults: G 8-32-32-1 has 1,377 parameters, D 1-32-32-1 has 1,153"
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 1), f"G maps z (N, nz) to x (N, 1), got {tuple(x.shape)}"
    assert D(x).shape == (5,), f"D maps x (N, 1) to logits (N,), got {tuple(D(x).shape)}"


def test_repeatable_and_leaves_global_rng_and_threads_alone():
    cfg = Toy1DConfig(steps=20)
    rng_before, threads_before = torch.random.get_rng_state(), torch.get_num_threads()
    a = train_toy1d(cfg, snapshot_steps=(20,))
    b = train_toy1d(cfg, snapshot_steps=(20,))
    assert torch.equal(torch.random.get_rng_state(), rng_before), "train_toy1d must not draw from the global RNG"
    assert torch.get_num_threads() == threads_before, "train_toy1d must restore torch's thread count"
    for key in ("loss_d", "loss_g", "d_x", "d_g_z"):
        assert torch.equal(a.history[key], b.history[key]), f"same seed, different {key} history"
    assert torch.equal(a.snapshots[0].samples, b.snapshots[0].samples), "same seed, different samples"


def test_snapshots_at_requested_steps():
    cfg = Toy1DConfig(steps=10, n_samples=100, grid=(-1.0, 1.0, 7))
    result = train_toy1d(cfg, snapshot_steps=(10, 0, 5, 5))
    assert [s.step for s in result.snapshots] == [0, 5, 10], "one snapshot per distinct step, in order"
    assert result.snapshots[0].samples.shape == (100,) and result.snapshots[0].d_prob.shape == (7,)
    assert result.grid.shape == (7,)
    assert all(result.history[k].shape == (10,) for k in result.history), "history: one value per step"
    assert not torch.equal(result.snapshots[0].samples, result.snapshots[-1].samples), "G did not change"


def test_zero_generator_learning_rate_freezes_g_while_d_learns():
    cfg = Toy1DConfig(steps=30, lr_g=0.0)
    G, D = build_toy1d(cfg)
    g_before = [p.detach().clone() for p in G.parameters()]
    result = train_toy1d(cfg, G=G, D=D)
    assert all(torch.equal(p, q) for p, q in zip(g_before, G.parameters())), "lr_g = 0 must leave G unchanged"
    assert result.history["d_g_z"][-1] < result.history["d_g_z"][0], "D should learn to reject G's samples"


def test_default_run_moves_g_onto_the_data():
    result = train_toy1d(Toy1DConfig(), snapshot_steps=(500,))
    samples = result.snapshots[-1].samples
    assert abs(samples.mean().item() - 3.0) < 0.25, f"mean of G(z) {samples.mean():.3f}, data mean 3.0"
    assert 0.25 < samples.std().item() < 0.75, f"std of G(z) {samples.std():.3f}, data std 0.5"
    d_g_z = result.history["d_g_z"][-50:].mean().item()
    assert abs(d_g_z - 0.5) < 0.05, f"mean D(G(z)) over the last 50 steps is {d_g_z:.3f}, expected about 1/2"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cfg": Toy1DConfig(loss="hinge")}, "toy1d takes loss 'minimax' or 'non-saturating'"),
        ({"cfg": Toy1DConfig(steps=5), "snapshot_steps": (6,)}, "snapshot steps must lie in [0, 5]"),
    ],
)
def test_user_errors_are_one_line(kwargs, message):
    with pytest.raises(UserError) as info:
        train_toy1d(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)

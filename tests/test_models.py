"""Tests for reference/models: exact parameter counts, shapes, output ranges, size policy, init,
and dcgan's fast layers against the stock PyTorch layers they stand for."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from torch import nn

from reference.errors import UserError
from reference.models import MODELS, ModelError, count_parameters, get_model
from reference.models import dcgan

MNIST, FASHION, CIFAR10, RING = (1, 28, 28), (1, 28, 28), (3, 32, 32), (2,)


@functools.lru_cache(maxsize=None)
def built(
    name: str,
    data_shape: tuple[int, ...],
    image_size: int | None = None,
    ngf: int = 64,
    ndf: int = 64,
):
    """(shape, G, D) for a model on a dataset, built once (dcgan-1024 has 24M parameters)."""
    spec = get_model(name)
    torch.manual_seed(0)
    shape = spec.resolve_shape(data_shape, image_size)
    netG, netD = spec.build(shape, spec.default_nz, ngf, ndf, num_classes=10 if spec.conditional else None)
    return shape, netG, netD


# (model, dataset shape, --image-size, expected training shape, G params, D params)
COUNTS = [
    ("mlp", MNIST, None, (1, 28, 28), 227_344, 201_217),
    ("dcgan-1024", FASHION, None, (1, 64, 64), 12_668_672, 11_032_065),
    ("upsample", FASHION, None, (1, 28, 28), 2_155_137, 1_113_345),
    ("tf-dcgan", MNIST, None, (1, 28, 28), 2_305_472, 212_865),
    ("tf-dcgan", CIFAR10, None, (3, 32, 32), 2_700_352, 217_985),
    ("dcgan", CIFAR10, 64, (3, 64, 64), 3_576_704, 2_765_568),
    # Not from a published table: what the stage rule gives, counted by hand.
    ("dcgan", CIFAR10, None, (3, 32, 32), 1_068_928, 663_296),
    ("dcgan", MNIST, None, (1, 28, 28), 837_504, 431_872),
    # resize-convolution: each stride-2 ConvTranspose2d (kernel 4, or 3 for 4 -> 7) becomes a 3x3 conv
    ("dcgan-resize", MNIST, None, (1, 28, 28), 779_712, 431_872),
    ("mlp2d", RING, None, (2,), 486_402, 81_201),
]


@pytest.mark.parametrize("name, data_shape, image_size, shape, n_g, n_d", COUNTS)
def test_parameter_counts(name, data_shape, image_size, shape, n_g, n_d):
    got_shape, netG, netD = built(name, data_shape, image_size)
    assert (
        got_shape == shape
    ), f"{name} on {data_shape} should train at {shape}, resolve_shape gave {got_shape}"
    assert count_parameters(netG) == n_g, (
        f"{name} G on {shape}: {count_parameters(netG):,} trainable parameters, expected {n_g:,}; "
        f"compare its layers with the module docstring"
    )
    assert (
        count_parameters(netD) == n_d
    ), f"{name} D on {shape}: {count_parameters(netD):,} trainable parameters, expected {n_d:,}"


SHAPES = [(name, data_shape, image_size) for name, data_shape, image_size, *_ in COUNTS]
SHAPES += [
    ("mlp", CIFAR10, None),
    ("mlp", MNIST, 32),
    ("upsample", CIFAR10, None),
    ("dcgan-1024", CIFAR10, 64),
]


@pytest.mark.parametrize("name, data_shape, image_size", SHAPES)
def test_output_shapes_and_range(name, data_shape, image_size):
    shape, netG, netD = built(name, data_shape, image_size)
    spec = get_model(name)
    torch.manual_seed(1)
    with torch.no_grad():
        x = netG(3 * torch.randn(4, spec.default_nz))
        logits = netD(x)
    assert x.shape == (4, *shape), f"{name} G(z) has shape {tuple(x.shape)}, expected {(4, *shape)}"
    assert logits.shape == (
        4,
    ), f"{name} D(x) has shape {tuple(logits.shape)}, expected logits (4,)"
    assert (
        torch.isfinite(x).all() and torch.isfinite(logits).all()
    ), f"{name} produced non-finite values"
    low, high = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "none": (-float("inf"), float("inf"))}[
        spec.output_range
    ]
    assert low <= x.min() and x.max() <= high, (
        f"{name} samples span [{x.min():.3f}, {x.max():.3f}], outside its output_range "
        f"{spec.output_range!r} = [{low}, {high}]"
    )


@pytest.mark.parametrize("size", [28, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_sizes(size, channels):
    spec = get_model("dcgan")
    shape = spec.resolve_shape((channels, size, size), None)
    assert shape == (channels, size, size)
    netG, netD = spec.build(shape, nz=16, ngf=8, ndf=8)
    x = netG(torch.randn(2, 16))
    assert x.shape == (2, channels, size, size), f"dcgan G at {size} px gives {tuple(x.shape)}"
    assert netD(x).shape == (2,), f"dcgan D at {size} px does not return logits (N,)"


@pytest.mark.parametrize("name", list(MODELS))
def test_discriminator_ends_without_sigmoid(name):
    data_shape = RING if name == "mlp2d" else MNIST
    _, _, netD = built(name, data_shape)
    last = [m for m in netD.modules() if next(m.children(), None) is None][-1]
    assert not isinstance(last, nn.Sigmoid), f"{name} D ends in a Sigmoid; losses expect raw logits"


@pytest.mark.parametrize("size", [28, 32, 64])
def test_dcgan_resize_upsamples_by_resize_convolution_only(size):
    """dcgan-resize is dcgan's G with every stride-2 transposed conv replaced by upsampling + a 3x3 conv:
    no transposed conv with a stride (only G's first, dense one on a 1x1 input), the same shapes and D."""
    spec, plain = get_model("dcgan-resize"), get_model("dcgan")
    torch.manual_seed(0)
    netG, netD = spec.build((3, size, size), nz=16, ngf=8, ndf=8)
    _, plain_D = plain.build((3, size, size), nz=16, ngf=8, ndf=8)
    strided = [m for m in netG.modules() if isinstance(m, nn.ConvTranspose2d) and m.stride != (1, 1)]
    assert not strided, f"dcgan-resize G still has strided transposed convs: {strided}"
    ups = [m for m in netG.modules() if isinstance(m, nn.Upsample)]
    assert len(ups) == len(dcgan.size_ladder(size)) - 1 and all(m.mode == "nearest" for m in ups)
    x = netG(torch.randn(2, 16))
    assert x.shape == (2, 3, size, size) and x.abs().max() <= 1
    assert [p.shape for p in netD.parameters()] == [p.shape for p in plain_D.parameters()]


def test_backward_reaches_every_parameter():
    _, netG, netD = built("dcgan", MNIST)
    netD(netG(torch.randn(2, 100))).sum().backward()
    missing = [n for n, p in [*netG.named_parameters(), *netD.named_parameters()] if p.grad is None]
    assert not missing, f"no gradient reached {missing}"


@pytest.mark.parametrize(
    "name, data_shape, image_size, hint",
    [
        ("dcgan", RING, None, "mlp2d"),
        ("mlp", RING, None, "mlp2d"),
        ("mlp2d", MNIST, None, "image"),
        ("mlp2d", RING, 28, "--image-size"),
        ("upsample", MNIST, 32, "28x28"),
        ("dcgan-1024", MNIST, 32, "64x64"),
        ("dcgan", CIFAR10, 50, "--image-size"),
        ("dcgan", (3, 96, 96), None, "--image-size"),
        ("dcgan", (3, 218, 178), None, "square"),
        ("tf-dcgan", (1, 30, 30), None, "divisible by 4"),
        ("tf-dcgan", MNIST, 30, "divisible by 4"),
        ("mlp", MNIST, 0, "positive"),
        ("dcgan", (5,), None, "not an image"),
    ],
)
def test_resolve_shape_errors(name, data_shape, image_size, hint):
    with pytest.raises(ModelError) as info:
        get_model(name).resolve_shape(data_shape, image_size)
    message = str(info.value)
    assert (
        f"'{name}'" in message and hint in message
    ), f"message should name '{name}' and say {hint!r}: {message}"
    assert "\n" not in message, f"errors a user causes are one line: {message!r}"
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)


def test_points_error_suggests_mlp2d():
    with pytest.raises(
        ModelError, match=r"model 'dcgan' needs image data; dataset shape \(2,\) is 2-D points"
    ):
        get_model("dcgan").resolve_shape(RING, None)


def test_unknown_model_lists_choices():
    with pytest.raises(ModelError) as info:
        get_model("stylegan")
    message = str(info.value)
    assert "'stylegan'" in message
    assert all(name in message for name in MODELS), f"should list every model: {message}"


def test_registry_entries():
    assert set(MODELS) == {"mlp", "dcgan", "dcgan-resize", "cdcgan", "cdcgan-proj", "dcgan-1024", "upsample", "tf-dcgan",
                           "mlp2d"}
    for name, spec in MODELS.items():
        assert spec.name == name
        assert spec.output_range in {"tanh", "sigmoid", "none"} and spec.kind in {"image", "points"}
        assert spec.description and "\n" not in spec.description
    assert (
        get_model("upsample").default_nz == 128 and get_model("upsample").output_range == "sigmoid"
    )
    assert get_model("mlp2d").default_nz == 2 and get_model("mlp2d").kind == "points"


@pytest.mark.parametrize(
    "name, data_shape, image_size", [("dcgan", CIFAR10, 64), ("dcgan-1024", FASHION, None)]
)
def test_dcgan_weights_init(name, data_shape, image_size):
    _, netG, netD = built(name, data_shape, image_size)
    convs = [
        m
        for net in (netG, netD)
        for m in net.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    for conv in convs:
        if conv.weight.numel() >= 1000:
            std = conv.weight.std().item()
            assert (
                abs(std - 0.02) < 0.002
            ), f"{name} {conv}: weight std {std:.4f}, weights_init draws N(0, 0.02)"
    norms = [m for net in (netG, netD) for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    gamma = torch.cat([m.weight.detach() for m in norms])
    beta = torch.cat([m.bias.detach() for m in norms])
    mean, std = gamma.mean().item(), gamma.std().item()
    assert (
        abs(mean - 1.0) < 0.005 and abs(std - 0.02) < 0.004
    ), f"{name} BatchNorm weights: mean {mean:.4f}, std {std:.4f}; expected N(1, 0.02)"
    assert torch.all(beta == 0), f"{name} BatchNorm biases should start at 0"


def test_weights_init_leaves_a_batchnorm_without_affine_parameters_alone():
    """Conditional BatchNorm keeps BatchNorm2d(affine=False) and takes its scale and shift from the label:
    weights_init initialises the convs around it and has nothing to set on it."""
    net = nn.Sequential(nn.ConvTranspose2d(8, 4, 4), nn.BatchNorm2d(4, affine=False), nn.BatchNorm1d(3, affine=False))
    net.apply(dcgan.weights_init)
    assert net[1].weight is None and net[1].bias is None and net[2].weight is None
    assert abs(net[0].weight.std().item() - 0.02) < 0.005


def test_count_parameters_skips_frozen():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    assert count_parameters(net) == 16 + 5
    net[0].requires_grad_(False)
    assert count_parameters(net) == 5


# ---- dcgan's fast layers: the stock layer's function, forward and backward ----------------------

# (fast layer class, constructor args, input shape): the MNIST DCGAN's shapes, other channel
# counts and kernels, and inputs where the layer must take the stock path.
FAST_LAYERS = [
    (dcgan.DenseConvTranspose2d, (100, 256, 4, 1, 0), (5, 100, 1, 1)),
    (dcgan.DenseConvTranspose2d, (16, 8, 3, 1, 0), (5, 16, 1, 1)),
    (dcgan.DenseConvTranspose2d, (16, 8, 4, 1, 0), (5, 16, 2, 2)),  # not 1x1: stock path
    (dcgan.DenseConvTranspose2d, (16, 8, 4, 2, 1), (5, 16, 1, 1)),  # strided: stock path
    (dcgan.DenseConv2d, (256, 1, 4, 1, 0), (5, 256, 4, 4)),
    (dcgan.DenseConv2d, (16, 3, 3, 1, 0), (5, 16, 3, 3)),
    (dcgan.DenseConv2d, (16, 3, 3, 1, 0), (5, 16, 5, 5)),  # kernel smaller than input: stock path
]


def stock_twin(fast: nn.Module) -> nn.Module:
    """A copy of `fast` as the stock layer it subclasses, with the same weights."""
    twin = copy.deepcopy(fast)
    twin.__class__ = next(c for c in type(fast).__mro__ if c.__module__.startswith("torch.nn"))
    return twin


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got - want).abs().max() / want.abs().max().clamp_min(1e-12)).item()


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("cls, args, x_shape", FAST_LAYERS)
def test_dcgan_fast_layer_matches_stock(cls, args, x_shape, channels_last, bias):
    torch.manual_seed(0)
    fast = cls(*args, bias=bias)
    if bias:
        nn.init.normal_(fast.bias)
    stock = stock_twin(fast)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    fast.to(memory_format=fmt)
    x = torch.randn(x_shape).contiguous(memory_format=fmt)
    x_fast, x_stock = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_fast, y_stock = fast(x_fast), stock(x_stock)
    where = f"{cls.__name__}{args} on {x_shape} (channels_last={channels_last}, bias={bias})"
    assert y_fast.shape == y_stock.shape, f"{where}: output shape {tuple(y_fast.shape)}"
    grad = torch.randn_like(y_stock)
    y_fast.backward(grad)
    y_stock.backward(grad)
    pairs = {"output": (y_fast, y_stock), "input gradient": (x_fast.grad, x_stock.grad)}
    for (name, p), q in zip(fast.named_parameters(), stock.parameters()):
        pairs[f"{name} gradient"] = (p.grad, q.grad)
    for what, (got, want) in pairs.items():
        err = relative_error(got, want)
        assert err < 1e-5, (
            f"{where}: {what} differs from the stock {type(stock).__name__} by {err:.1e} of its "
            f"largest value; see its forward in reference/models/dcgan.py"
        )


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_dcgan_equals_the_stock_layers_end_to_end(shape):
    """G and D compute what pytorch/examples' layers (NCHW) compute and share its state_dict."""
    torch.manual_seed(0)
    netG, netD = dcgan.build(shape, nz=100, ngf=8, ndf=8)
    nchw = torch.contiguous_format
    stockG, stockD = (copy.deepcopy(net).to(memory_format=nchw) for net in (netG, netD))
    for fast, stock in ((netG, stockG), (netD, stockD)):
        for name, m in list(stock.main.named_children()):
            if type(m).__module__ == dcgan.__name__:
                stock.main.add_module(name, stock_twin(m))
        stock.load_state_dict(fast.state_dict())  # strict: the same keys and shapes
        fast.load_state_dict(stock.state_dict())  # an NCHW checkpoint loads too
    z = torch.randn(6, 100)
    x, x_stock = netG(z), stockG(z)
    assert x.is_contiguous(), "dcgan G should return ordinary contiguous (N, C, H, W) images"
    logits, logits_stock = netD(x), stockD(x_stock)
    logits.square().mean().backward()
    logits_stock.square().mean().backward()
    assert relative_error(x, x_stock) < 1e-5, f"dcgan G on {shape} differs from the stock layers"
    assert relative_error(logits, logits_stock) < 1e-5, f"dcgan D on {shape} differs from stock"
    params = [*netG.named_parameters(), *netD.named_parameters()]
    for (name, p), q in zip(params, [*stockG.parameters(), *stockD.parameters()]):
        err = relative_error(p.grad, q.grad)  # through BatchNorm: round-off grows a little
        assert err < 1e-4, f"dcgan on {shape}: gradient of {name} differs from stock by {err:.1e}"


def test_dcgan_step_is_deterministic_on_cpu():
    def grads() -> list[torch.Tensor]:
        torch.manual_seed(0)
        netG, netD = dcgan.build((1, 28, 28), nz=100, ngf=16, ndf=16)
        netD(netG(torch.randn(8, 100))).sum().backward()
        return [p.grad for net in (netG, netD) for p in net.parameters()]

    same = all(torch.equal(a, b) for a, b in zip(grads(), grads()))
    assert same, "two seeded dcgan passes gave different gradients on the CPU"

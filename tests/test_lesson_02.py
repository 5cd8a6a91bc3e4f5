"""The checks of lesson 02 (reference/checks/lesson_02.py) pass the model answers and name the fault
of each realistic wrong answer.

Each answer is the source of one code-along cell, run into a fresh namespace as a notebook would run
it (with the notebook's global optimisers `opt_g` and `opt_d` of its own G and D, which a wrong answer
may step by mistake); the checks see that namespace through a LocalSubmission, as `grade(...)` does
in a kernel. The model answers are read from the lesson's source notebook, and its untouched stubs
are made from them the way the student version is (the solution region replaced).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference.checks import lesson_02
from reference.grading.checks import quiet, run_check
from reference.grading.submission import LocalSubmission
from reference.models import mlp

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "lessons" / "02_mlp_gan_mnist.ipynb"
CHECKS = {"test_scale_images": "scale_images", "test_d_step": "d_step", "test_g_step": "g_step"}
NOT_IMPLEMENTED = "`{}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"


def source_cells() -> dict[str, str]:
    """The code-along cells of the lesson's source: function name -> cell source."""
    found = {}
    for cell in json.loads(SOURCE.read_text())["cells"]:
        text = "".join(cell["source"])
        for name in CHECKS.values():
            if cell["cell_type"] == "code" and f"def {name}(" in text:
                found[name] = text
    return found


MODEL = source_cells()


def stub(source: str) -> str:
    """The student's version of a cell: each solution region becomes the nbgrader placeholder."""
    pattern = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
    return pattern.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()", source)


def namespace(**answers: str) -> dict:
    """A notebook's globals after running the given cells (a function's name -> its source); the
    other code-along functions get the source's model answers."""
    torch.manual_seed(0)
    G, D = mlp.build((1, 28, 28), 100)
    ns = {"__name__": "lesson_02_test", "torch": torch, "F": F, "nn": nn, "G": G, "D": D,
          "opt_g": torch.optim.Adam(G.parameters(), lr=2e-4), "opt_d": torch.optim.Adam(D.parameters(), lr=2e-4)}
    for name, source in {**MODEL, **answers}.items():
        exec(compile(textwrap.dedent(source), f"<cell {name}>", "exec"), ns)
    return ns


def grade(check_name: str, **answers: str) -> tuple[float, str]:
    """(earned, message) of one check, run as `reference.grading.grade` runs it (warnings silenced)."""
    with quiet():
        return run_check(getattr(lesson_02, check_name), LocalSubmission(namespace(**answers)))


def test_checks_are_visible_one_point_each_with_titles():
    found = {name: fn for name, fn in vars(lesson_02).items() if name.startswith("test_") and callable(fn)}
    assert set(found) == set(CHECKS)
    assert all(fn.points == 1.0 and fn.visible and fn.__doc__ for fn in found.values())
    assert lesson_02.ASSIGNMENT == "lesson_02"


def test_the_source_has_one_solution_region_per_code_along_cell():
    assert set(MODEL) == set(CHECKS.values())
    for name, source in MODEL.items():
        assert source.count("### BEGIN SOLUTION") == source.count("### END SOLUTION") == 1, name
        assert "raise NotImplementedError()" in stub(source) and "### BEGIN" not in stub(source)


@pytest.mark.parametrize("check_name", CHECKS)
def test_model_answer_passes(check_name):
    assert grade(check_name) == (1.0, "")


@pytest.mark.parametrize("check_name", CHECKS)
def test_untouched_stub_says_not_implemented(check_name):
    name = CHECKS[check_name]
    assert grade(check_name, **{name: stub(MODEL[name])}) == (0.0, NOT_IMPLEMENTED.format(name))


def test_a_missing_function_is_named():
    ns = namespace()
    del ns["d_step"]
    earned, message = run_check(lesson_02.test_d_step, LocalSubmission(ns))
    assert earned == 0.0 and message.startswith("`d_step` is not defined")


def test_the_check_leaves_the_students_random_numbers_alone():
    ns = namespace()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for fn in (lesson_02.test_scale_images, lesson_02.test_d_step, lesson_02.test_g_step):
        assert run_check(fn, LocalSubmission(ns)) == (1.0, "")
    assert torch.equal(torch.rand(3), expected)


def test_the_scene_tells_the_mistakes_apart():
    """The seeded scene makes every diagnosed wrong loss differ from the right one, and from each other."""
    sc = lesson_02.scene()
    real, fake = lesson_02.logits(sc.D0, sc.G0, sc)
    d_values = [sc.loss_d] + [v for v, _ in lesson_02.d_loss_faults(real, fake, sc.loss_d)]
    real1, fake1 = lesson_02.logits(sc.D1, sc.G0, sc)
    g_values = [sc.loss_g] + [v for v, _ in lesson_02.g_loss_faults(fake1, real1, sc.loss_g)]
    # the losses after each update, which a step that scores again after its step() returns
    d_values.append(float(F.softplus(-real1).mean() + F.softplus(fake1).mean()))
    g_values.append(float(F.softplus(-lesson_02.logits(sc.D1, sc.G1, sc)[1]).mean()))
    for values in (d_values, g_values):
        gaps = [abs(a - b) for i, a in enumerate(values) for b in values[i + 1:]]
        assert min(gaps) > 1e-2, values
    # the trainer's step really did update D in its D step and G in its G step
    G, D = lesson_02.networks(sc.G0, sc.D0)
    assert lesson_02.moved(lesson_02.flat_state(D, sc.D1), lesson_02.flat_state(D, sc.D0))
    assert lesson_02.moved(lesson_02.flat_state(G, sc.G1), lesson_02.flat_state(G, sc.G0))


# ---------------------------------------------------------------------------------------------
# Right answers written in other ways
# ---------------------------------------------------------------------------------------------

OTHER_RIGHT = {
    "scale_images": [
        "def scale_images(x):\n    return x.float() / 127.5 - 1",
        "def scale_images(x):\n    return (x.to(torch.float32) - 127.5) / 127.5",
        "def scale_images(x):\n    return x / 255 * 2 - 1",  # true division of uint8 gives float32
    ],
    "d_step": [
        """
        def d_step(G, D, opt_d, real, z):
            with torch.no_grad():
                fake = G(z)
            bce = nn.BCELoss()
            p_real, p_fake = torch.sigmoid(D(real)), torch.sigmoid(D(fake))
            loss_d = bce(p_real, torch.ones_like(p_real)) + bce(p_fake, torch.zeros_like(p_fake))
            opt_d.zero_grad(set_to_none=False)
            loss_d.backward()
            opt_d.step()
            return loss_d.item()
        """,
        """
        def d_step(G, D, opt_d, real, z):
            D.zero_grad()
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(G(z).detach())).mean()
            loss_d.backward()
            opt_d.step()
            return loss_d.detach()
        """,
        # backward only into D's parameters: G(z) is not detached, but no gradient is computed for G
        """
        def d_step(G, D, opt_d, real, z):
            logits_real, logits_fake = D(real), D(G(z))
            loss_d = F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()
            opt_d.zero_grad()
            loss_d.backward(inputs=list(D.parameters()))
            opt_d.step()
            return loss_d
        """,
        # not detached, G's gradients thrown away after the step (a classic style: the same update, with a
        # wasted backward pass through G, as the lesson's g_step computes D's gradients and lets them go)
        """
        def d_step(G, D, opt_d, real, z):
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(G(z))).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            G.zero_grad()
            return loss_d
        """,
        # G frozen while D's loss is computed, and unfrozen again
        """
        def d_step(G, D, opt_d, real, z):
            G.requires_grad_(False)
            fake = G(z)
            G.requires_grad_(True)
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            return loss_d
        """,
    ],
    "g_step": [
        """
        def g_step(G, D, opt_g, z):
            for p in D.parameters():
                p.requires_grad_(False)
            loss_g = -F.logsigmoid(D(G(z))).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            for p in D.parameters():
                p.requires_grad_(True)
            return loss_g.item()
        """,
        """
        def g_step(G, D, opt_g, z):
            p_fake = torch.sigmoid(D(G(z)))
            loss_g = nn.BCELoss()(p_fake, torch.ones_like(p_fake))
            G.zero_grad()
            loss_g.backward()
            opt_g.step()
            return loss_g
        """,
    ],
}


@pytest.mark.parametrize("name,source", [(n, s) for n, sources in OTHER_RIGHT.items() for s in sources])
def test_other_right_answers_pass(name, source):
    check_name = next(c for c, f in CHECKS.items() if f == name)
    assert grade(check_name, **{name: source}) == (1.0, "")


# ---------------------------------------------------------------------------------------------
# Wrong answers: each gets its fault named
# ---------------------------------------------------------------------------------------------

D_STEP = """
def d_step(G, D, opt_d, real, z):
    fake = {fake}
    logits_real, logits_fake = D(real), D(fake)
    loss_d = {loss}
    {zero}
    loss_d.backward()
    {step}
    return {ret}
"""
D_RIGHT = dict(
    fake="G(z).detach()",
    loss="F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real)) + "
         "F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))",
    zero="opt_d.zero_grad()", step="opt_d.step()", ret="loss_d",
)
G_STEP = """
def g_step(G, D, opt_g, z):
    logits_fake = D({fake})
    loss_g = {loss}
    {zero}
    loss_g.backward()
    {step}
    return {ret}
"""
G_RIGHT = dict(
    fake="G(z)", loss="F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))",
    zero="opt_g.zero_grad()", step="opt_g.step()", ret="loss_g",
)


def d_step(**change: str) -> str:
    return D_STEP.format(**{**D_RIGHT, **change})


def g_step(**change: str) -> str:
    return G_STEP.format(**{**G_RIGHT, **change})


WRONG = {
    # scale_images
    "scale: [0, 1]": ("scale_images", "def scale_images(x):\n    return x.float() / 255", "that is [0, 1] (x / 255)"),
    "scale: [-0.5, 0.5]": ("scale_images", "def scale_images(x):\n    return x.float() / 255 - 0.5", "that is [-0.5, 0.5]"),
    "scale: [0, 2]": ("scale_images", "def scale_images(x):\n    return x.float() / 127.5", "that is [0, 2]: shift it down by 1"),
    "scale: flipped": ("scale_images", "def scale_images(x):\n    return 1 - x.float() / 127.5", "the direction is flipped"),
    "scale: uint8 wraps": ("scale_images", "def scale_images(x):\n    return x * 2 / 255 - 1",
                           "the arithmetic ran on uint8 and wrapped around"),
    "scale: uint8 wraps below 128": ("scale_images", "def scale_images(x):\n    return (x - 128) / 127.5 + 1 / 255",
                                     "the arithmetic ran on uint8 and wrapped around"),
    # uint8 arithmetic that wraps somewhere other than half-way: the map drops back at one pixel value
    "scale: x - 128 on uint8": ("scale_images", "def scale_images(x):\n    return (x - 128) / 128",
                                "pixel 127 becomes 1.9922 but 128 becomes 0: the map drops back there, so the arithmetic "
                                "ran on uint8 and wrapped around"),
    "scale: x - 255 // 2 on uint8": ("scale_images", "def scale_images(x):\n    return (x - 255 // 2) / (255 / 2)",
                                     "pixel 126 becomes 2 but 127 becomes 0: the map drops back there"),
    "scale: x + 1 on uint8": ("scale_images", "def scale_images(x):\n    return (x + 1).float() / 128 - 1",
                              "pixel 254 becomes 0.99219 but 255 becomes -1: the map drops back there"),
    "scale: divides by 256": ("scale_images", "def scale_images(x):\n    return x.float() / 128 - 1",
                              "255 must become exactly 1"),
    # found by the lessons' false-positive red team: the two brightest values off by 0.01 were called uint8 wrap-around
    "scale: clamped below 1": ("scale_images", "def scale_images(x):\n    return (x.float() / 127.5 - 1).clamp(-1, 0.99)",
                               "255 must become exactly 1 (0.99 here)"),
    "scale: float64": ("scale_images", "def scale_images(x):\n    return x.double() / 127.5 - 1", "returned dtype torch.float64"),
    "scale: integers": ("scale_images", "def scale_images(x):\n    return (x.long() - 128) // 128", "returned dtype torch.int64"),
    "scale: in place": ("scale_images", "def scale_images(x):\n    x[x > 0] = 255\n    return x.float() / 127.5 - 1",
                        "changed its input in place"),
    # an RGB recipe on 1-channel MNIST: torchvision's Normalize raises, broadcasting by hand makes 3 channels
    "scale: RGB Normalize": ("scale_images", "def scale_images(x):\n    import torchvision.transforms as T\n"
                             "    return T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))(x.float() / 255)",
                             "MNIST has 1 channel: give one mean and one std, Normalize((0.5,), (0.5,))"),
    "scale: RGB by hand": ("scale_images", "def scale_images(x):\n    mean = torch.tensor([0.5, 0.5, 0.5]).view(3, 1, 1)\n"
                           "    return (x.float() / 255 - mean) / 0.5", "it uses 3 values per channel (an RGB recipe"),
    "scale: None": ("scale_images", "def scale_images(x):\n    x.float() / 127.5 - 1", "returned None"),
    # right on a batch that holds 0 and 255, wrong on one that does not: the batch's own range
    "scale: batch's min and max": (
        "scale_images", "def scale_images(x):\n    x = x.float()\n    return (x - x.min()) / (x.max() - x.min()) * 2 - 1",
        "scale_images depends on the batch: pixel"),
    "scale: batch's max": ("scale_images", "def scale_images(x):\n    x = x.float()\n    return x / x.max() * 2 - 1",
                           "it divides by the batch's largest pixel"),
    "scale: batch's mean and std": (
        "scale_images", "def scale_images(x):\n    x = x.float()\n    return (x - x.mean()) / x.std()",
        "it standardises by the batch's mean and std"),
    # d_step
    "d: no detach": ("d_step", d_step(fake="G(z)"), "G's parameters received gradients in the D step"),
    "d: freezes G for good": ("d_step", d_step(fake="G.requires_grad_(False)(z)"),
                              "d_step left G's parameters with requires_grad=False"),
    # D's own logits detached instead of G's output: one term's value counts, but D learns from the other alone
    "d: fake logits detached": ("d_step", D_STEP.format(**{**D_RIGHT, "fake": "G(z)"}).replace(
        "logits_real, logits_fake = D(real), D(fake)", "logits_real, logits_fake = D(real), D(fake).detach()"),
        "D moved as its real term alone moves it: D's logits on the fake batch carry no gradient"),
    "d: real logits detached": ("d_step", d_step().replace(
        "logits_real, logits_fake = D(real), D(fake)", "logits_real, logits_fake = D(real).detach(), D(fake)"),
        "D moved as its fake term alone moves it: D's logits on the real batch carry no gradient"),
    "d: labels swapped": (
        "d_step", d_step(loss="F.binary_cross_entropy_with_logits(logits_real, torch.zeros_like(logits_real)) + "
                              "F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))"),
        "the real/fake labels are swapped"),
    "d: averaged": ("d_step", d_step(loss="(F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()) / 2"),
                    "loss_d is exactly half the trainer's"),
    "d: one BCE over both batches": (
        "d_step", d_step(loss="F.binary_cross_entropy_with_logits(torch.cat([logits_real, logits_fake]), "
                              "torch.cat([torch.ones_like(logits_real), torch.zeros_like(logits_fake)]))"),
        "loss_d is exactly half the trainer's"),
    # the real batch scaled again, as scale_images did (the batches the step gets are already in [-1, 1])
    "d: real scaled again": ("d_step", d_step().replace("D(real), D(fake)", "D(real.float() / 127.5 - 1), D(fake)"),
                             "with D shown real / 127.5 - 1 instead of the real batch: `real` comes already scaled"),
    "d: real mapped to [0, 1]": ("d_step", d_step().replace("D(real), D(fake)", "D((real + 1) / 2), D(fake)"),
                                 "with D shown (real + 1) / 2 instead of the real batch"),
    "d: only the real term": ("d_step", d_step(loss="F.softplus(-logits_real).mean()"), "loss_d holds only the real term"),
    "d: V, not -V": ("d_step", d_step(loss="-(F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean())"),
                     "loss_d has the wrong sign"),
    "d: summed over the batch": ("d_step", d_step(loss="F.softplus(-logits_real).sum() + F.softplus(logits_fake).sum()"),
                                 "average each term over the batch"),
    "d: steps the notebook's opt_g": ("d_step", d_step(step="opt_g.step()"),
                                      "D's parameters did not change although gradients reached them"),
    "d: also steps the notebook's opt_g": ("d_step", d_step(step="opt_d.step(); opt_g.step()"),
                                           "d_step also steps an optimiser other than the `opt_d` it is given"),
    "d: no step": ("d_step", d_step(step="pass"), "D's parameters did not change although gradients reached them"),
    "d: no zero_grad": ("d_step", d_step(zero="pass"), "call opt_d.zero_grad() before loss_d.backward()"),
    "d: step before backward": ("d_step", d_step(zero="opt_d.step()", step="pass"),
                                "calling `d_step` raised RuntimeError: one of the variables needed for gradient "
                                "computation has been modified by an inplace operation"),
    "d: no backward, no zero_grad": ("d_step", d_step(zero="pass").replace("loss_d.backward()", "pass"),
                                     "D moved by the gradients left in .grad from before this step"),
    "d: no backward": ("d_step", d_step().replace("loss_d.backward()", "pass"),
                       "D's parameters did not change and hold no gradient: call loss_d.backward()"),
    "d: zero_grad between backward and step": ("d_step", d_step(zero="pass", step="opt_d.zero_grad(); opt_d.step()"),
                                               "D's parameters did not change and hold no gradient"),
    # each term backward on its own, D's gradients zeroed between them: the real term's are lost
    "d: zero_grad between the terms' backward calls": ("d_step", """
def d_step(G, D, opt_d, real, z):
    fake = G(z).detach()
    loss_real = F.binary_cross_entropy_with_logits(D(real), torch.ones(real.shape[0]))
    loss_fake = F.binary_cross_entropy_with_logits(D(fake), torch.zeros(fake.shape[0]))
    opt_d.zero_grad()
    loss_real.backward()
    opt_d.zero_grad()
    loss_fake.backward()
    opt_d.step()
    return loss_real + loss_fake
""", "D moved as its fake term alone moves it, although both terms' gradients reached D: a zero_grad between the two "
     "backward() calls cleared the real term's"),
    "d: steps twice": ("d_step", d_step(step="opt_d.step(); opt_d.step()"),
                       "D moved twice as far as the trainer's step: step opt_d once per call"),
    # one step on a doubled gradient: not told to step once, which it does
    "d: backward twice (retain_graph)": ("d_step", d_step(zero="opt_d.zero_grad(); loss_d.backward(retain_graph=True)"),
                                         "D moved twice as far as the trainer's step although opt_d stepped once, so the "
                                         "gradient it used is twice this step's"),
    "d: backward on each term, then on their sum": ("d_step", """
def d_step(G, D, opt_d, real, z):
    fake = G(z).detach()
    loss_real, loss_fake = F.softplus(-D(real)).mean(), F.softplus(D(fake)).mean()
    opt_d.zero_grad()
    loss_real.backward(retain_graph=True)
    loss_fake.backward(retain_graph=True)
    loss_d = loss_real + loss_fake
    loss_d.backward()
    opt_d.step()
    return loss_d
""", "although opt_d stepped once, so the gradient it used is twice this step's"),
    # the same without retain_graph: PyTorch refuses the second pass; G's fakes are detached, so the cause is not a
    # missing .detach() (the usual cause of this error in a training loop), but the second backward within d_step
    "d: backward twice, graph freed": ("d_step", d_step(zero="opt_d.zero_grad(); loss_d.backward()"),
                                       "d_step raised RuntimeError (Trying to backward through the graph a second time): "
                                       "within this one call, backward() ran a second time through a graph"),
    "g: backward twice, graph freed": ("g_step", g_step(zero="opt_g.zero_grad(); loss_g.backward()"),
                                       "g_step raised RuntimeError (Trying to backward through the graph a second time): "
                                       "within this one call, backward() ran a second time"),
    # labels made for the notebook's batch of 64: the check's batches have 16 images
    "d: targets for a batch of 64": (
        "d_step", d_step(loss="F.binary_cross_entropy_with_logits(logits_real, torch.ones(64)) + "
                              "F.binary_cross_entropy_with_logits(logits_fake, torch.zeros(64))"),
        "its targets hold 64 labels but the batch has 16 images, so their number is fixed in the code"),
    "d: targets for a batch of 64, BCELoss": (
        "d_step", d_step(loss="nn.BCELoss()(torch.sigmoid(logits_real), torch.ones(64)) + "
                              "nn.BCELoss()(torch.sigmoid(logits_fake), torch.zeros(64))"),
        "its targets hold 64 labels but the batch has 16 images"),
    "d: returns the loss after the step": ("d_step", d_step(
        ret="F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()"),
        "is the loss after D's update (D or its inputs scored again after opt_d.step())"),
    "d: its own Adam": ("d_step", d_step(zero="opt = torch.optim.Adam(D.parameters(), lr=2e-4); opt.zero_grad()",
                                         step="opt.step()"),
                        "d_step steps an optimiser of D's parameters other than the `opt_d` it is given (one made inside "
                        "the function"),
    "d: its own SGD": ("d_step", d_step(zero="opt = torch.optim.SGD(D.parameters(), lr=0.1); opt.zero_grad()",
                                        step="opt.step()"),
                       "d_step steps an optimiser of D's parameters other than the `opt_d` it is given"),
    "d: backward on V, returns -V": (
        "d_step", d_step(loss="F.logsigmoid(logits_real).mean() + F.logsigmoid(-logits_fake).mean()",
                         ret="-loss_d"),
        "D moved the opposite way from the trainer's step"),
    "d: returns a tuple": ("d_step", d_step(ret="loss_d, logits_real.sigmoid().mean()"), "returned a tuple of 2"),
    "d: returns None": ("d_step", d_step(ret="None"), "returned None"),
    "d: draws its own z": ("d_step", d_step(fake="G(torch.randn_like(z)).detach()"),
                           "d_step runs G on noise other than the z it is given"),
    "d: sigmoid before BCE with logits": (
        "d_step", d_step(loss="F.binary_cross_entropy_with_logits(torch.sigmoid(logits_real), torch.ones_like(logits_real)) + "
                              "F.binary_cross_entropy_with_logits(torch.sigmoid(logits_fake), torch.zeros_like(logits_fake))"),
        "D's logits went through a sigmoid before a loss that applies its own"),
    "d: log of the logits": ("d_step", d_step(loss="-(torch.log(logits_real).mean() + torch.log(1 - logits_fake).mean())"),
                             "takes the log of D's raw output as if it were a probability"),
    "d: label smoothing": (
        "d_step", d_step(loss="F.binary_cross_entropy_with_logits(logits_real, torch.full_like(logits_real, 0.9)) + "
                              "F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))"),
        "smoothed labels (0.9 for real and 0 for fake)"),
    "d: fakes labelled real": ("d_step", d_step(loss="F.softplus(-logits_real).mean() + F.softplus(-logits_fake).mean()"),
                               "the fakes are scored with label 1 (real)"),
    "d: real batch labelled fake": ("d_step", d_step(loss="F.softplus(logits_real).mean() + F.softplus(logits_fake).mean()"),
                                    "the real batch is scored with label 0 (fake)"),
    # g_step
    "g: sigmoid before BCE with logits": (
        "g_step", g_step(loss="F.binary_cross_entropy_with_logits(torch.sigmoid(logits_fake), torch.ones_like(logits_fake))"),
        "D's logits went through a sigmoid before a loss that applies its own"),
    "g: log of the logits": ("g_step", g_step(loss="-torch.log(logits_fake).mean()"),
                             "loss_g is not a finite number: a log of a number <= 0? D returns a logit"),
    "g: saturating loss": ("g_step", g_step(loss="torch.log(1 - torch.sigmoid(logits_fake)).mean()"),
                           "this is the saturating loss log(1 - D(G(z)))"),
    "g: saturating loss from logits": ("g_step", g_step(loss="-F.softplus(logits_fake).mean()"),
                                       "this is the saturating loss log(1 - D(G(z)))"),
    "g: label 0 on the fakes": (
        "g_step", g_step(loss="F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))"),
        "G's fakes are scored with label 0"),
    "g: detached": ("g_step", g_step(fake="G(z).detach()"), "no gradient of loss_g reached G"),
    "g: detached, no zero_grad": ("g_step", g_step(fake="G(z).detach()", zero="pass"), "no gradient of loss_g reached G"),
    # backward on the sum over the batch, the mean returned: the step is BATCH times the trainer's
    "g: backward on the sum, the mean returned": ("g_step", """
def g_step(G, D, opt_g, z):
    losses = F.softplus(-D(G(z))).flatten()
    opt_g.zero_grad()
    losses.sum().backward()
    opt_g.step()
    return losses.mean()
""", "G moved 16 times as far as the trainer's step, the batch size: loss_g.backward() ran on the sum over the batch"),
    "d: backward on three times the loss": ("d_step", d_step(zero="opt_d.zero_grad(); (3 * loss_d).backward(); opt_d.step()",
                                                              step="pass").replace("    loss_d.backward()\n", "", 1),
                                            "D moved 3 times as far as the trainer's step, in its direction"),
    "g: zero_grad between backward and step": ("g_step", g_step(zero="pass", step="opt_g.zero_grad(); opt_g.step()"),
                                               "loss_g's gradients reached G, but were cleared before opt_g.step()"),
    "g: steps the notebook's opt_d": ("g_step", g_step(step="opt_d.step()"),
                                      "G's parameters did not change although gradients reached them"),
    # the right update, plus a step of the notebook's other optimiser
    "g: also steps the notebook's opt_d": ("g_step", g_step(step="opt_g.step(); opt_d.step()"),
                                           "g_step also steps an optimiser other than the `opt_g` it is given"),
    "g: no zero_grad": ("g_step", g_step(zero="pass"), "call opt_g.zero_grad() before loss_g.backward()"),
    "g: freezes D for good": ("g_step", g_step(zero="D.requires_grad_(False); opt_g.zero_grad()"),
                              "g_step left D's parameters with requires_grad=False"),
    "g: summed over the batch": ("g_step", g_step(loss="F.softplus(-logits_fake).sum()"), "average over the batch"),
    "g: backward on -loss_g": ("g_step", g_step().replace("loss_g.backward()", "(-loss_g).backward()"),
                               "G moved the opposite way from the trainer's step"),
    "g: returns a tuple": ("g_step", g_step(ret="loss_g, logits_fake"), "returned a tuple of 2"),
    "g: steps twice": ("g_step", g_step(step="opt_g.step(); opt_g.step()"),
                       "G moved twice as far as the trainer's step: step opt_g once per call"),
    "g: backward twice (retain_graph)": ("g_step", g_step(zero="opt_g.zero_grad(); loss_g.backward(retain_graph=True)"),
                                         "G moved twice as far as the trainer's step although opt_g stepped once"),
    "g: targets for a batch of 64": (
        "g_step", g_step(loss="F.binary_cross_entropy_with_logits(logits_fake, torch.ones(64))"),
        "its targets hold 64 labels but the batch has 16 images, so their number is fixed in the code"),
    "g: returns the loss after the step": ("g_step", g_step(ret="F.softplus(-D(G(z))).mean()"),
                                           "is the loss after G's update (G or its inputs scored again after opt_g.step())"),
    "g: its own Adam": ("g_step", g_step(zero="opt = torch.optim.Adam(G.parameters(), lr=2e-4); opt.zero_grad()",
                                         step="opt.step()"),
                        "g_step steps an optimiser of G's parameters other than the `opt_g` it is given (one made inside "
                        "the function"),
    # one-sided label smoothing applied to G's targets: named, not the generic hint
    "g: smoothed target 0.9": (
        "g_step", g_step(loss="F.binary_cross_entropy_with_logits(logits_fake, torch.full_like(logits_fake, 0.9))"),
        "loss_g scores G's fakes against the label 0.9, not 1: G's targets must be 1 (real)"),
    "g: smoothed target 0.95 with BCEWithLogitsLoss": (
        "g_step", g_step(loss="nn.BCEWithLogitsLoss()(logits_fake, torch.ones_like(logits_fake) * 0.95)"),
        "against the label 0.95, not 1"),
    "g: draws its own z": ("g_step", g_step(fake="G(torch.randn(z.shape[0], z.shape[1]))"),
                           "g_step runs G on noise other than the z it is given"),
}


@pytest.mark.parametrize("case", WRONG)
def test_wrong_answer_is_named(case):
    name, source, expected = WRONG[case]
    check_name = next(c for c, f in CHECKS.items() if f == name)
    earned, message = grade(check_name, **{name: source})
    assert earned == 0.0 and expected in message, message
    if name == "scale_images" and "batch's" in case:
        assert "scale by the fixed range 0..255" in message, message


def test_a_crash_in_the_students_step_is_reported_as_theirs():
    source = d_step(loss="F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean(dim=1)")
    earned, message = grade("test_d_step", d_step=source)
    assert earned == 0.0 and message.startswith("calling `d_step` raised IndexError"), message

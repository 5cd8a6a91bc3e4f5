"""Checks of a6_conditional_gan: make the MNIST DCGAN conditional, G(z, y) and D(x, y), and train it on labels.

The student writes `ConditionalGenerator(nz=100, ngf=64, num_classes=10)` (z (N, nz) and labels y
int64 (N,) -> images (N, 1, 28, 28) in [-1, 1]), `ConditionalDiscriminator(ndf=64, num_classes=10)`
(images and labels -> logits (N,)) and `train_step(G, D, opt_g, opt_d, real, labels, nz, num_classes)`,
one conditional GAN step. The checks build the networks in the submission's worker at ngf = ndf = 16
with fixed seeds and reach them only through `submission` and the probes of
`reference.grading.probes_a6` (and `probes.module_summary`, for parameter counts). A network built
from the course library's conditional DCGAN (`reference.models.conditional`, lesson 7: it holds the
answers; `ANSWERS`) scores nothing in the checks that build it. (Masking that module, as a1 masks its
answers, would break `reference.models`, which imports it and which the notebook needs for the given
DCGAN.)

- generator output shape (2, visible): G(z, y) traced layer by layer for label batches of every digit
  (N = 10), of 0s, of 9s (N = 3), a mixed one (N = 5) and one image (N = 1: a y.squeeze() that drops
  the batch dimension there is told so); faults are told by the labels they depend on: a G that takes
  num_classes labels but not 0..9 (every label -10..19 tried alone) uses them with an offset
  (`F.one_hot(y + 1, num_classes)`); failing on 9s only is a one-hot or embedding with fewer than
  num_classes entries; failing on a batch without a 9 is `F.one_hot(y)` without num_classes (its size
  follows the batch's largest label); failing on every integer label batch but running on one-hot rows
  is a G that expects y one-hot (it is given integers), and running when called G(y, z) one whose
  forward takes its arguments in the other order; otherwise the layer that raised or the shape, with
  its fix. A G that works at nz = 100 only gets 1 point ("use the `nz` argument"), and so does one
  whose widths ignore `ngf` (`width_fault`: the same parameter count at ngf = 16 and 32, as in a Keras
  tutorial ported with 128 channels everywhere).
- generator output range (1, visible): in [-1, 1] also with every weight scaled up 25 times (a final tanh).
- generator uses y and z (2, visible): first, G must be a fixed function of z and y: a layer with
  weights that runs but is not registered in G (made in forward, or kept in a plain list; found by
  `probes_a6.trace`), or outputs that differ for the same z and y twice in eval mode (weights drawn
  in forward), cost both points: such a label path is random and never trained. Then, in eval
  mode, the same z with other labels gives other images and other z with the same labels too (as
  built, or with its weights jittered, so that a label path that starts at zero counts), and image
  i equals G(z[i:i+1], y[i:i+1]) (compared by value, so that a D ending in .squeeze(), () for one
  image, is measured alike): each image depends on its own noise and label only, and on every dimension of
  z (`probes.noise_reach`: a gradient reaches each), and every two labels give other images for one z (`merged_labels`:
  a one-hot or embedding too short for the labels, reached through a clamp or a modulo, folds two labels into one, and G
  can never be asked for one of them; the learning check cannot tell: measured, 5 of 5). Ignoring y costs both points;
  ignoring z (noise drawn inside forward in its place, or part of z dropped), mixing the batch's labels, or folding two
  labels into one, one.
- discriminator output (2, visible): D(x, y) gives one value per image, (N,) or (N, 1), for the
  same label batches, faults told as for G; and logits, not probabilities: with its weights scaled
  up (or, where that leaves them as they were, spectral norm, its images too) its outputs leave [0, 1] (a final
  sigmoid costs 1 point); widths that ignore `ndf` cost 1 point.
- discriminator uses y (2, visible): D must be a fixed function of x and y, as G; then the same
  images with other labels get other logits (as built or jittered), and the change differs from
  image to image: a label that only adds a constant per class (its vector joined to the features
  right before one linear layer) cannot say whether an image matches its label, and learns nothing
  conditional (measured: agreement at chance); nor can one that only rescales one score of the image
  (`label_effect_rank_one`: a number per class times D's final logit, or a projection taken on that one-number
  output; measured: 11% and 10%). Both cost the two points. One point is lost by a D that judges an image with other
  images' labels: in reverse order its logits are not reversed, or an image's logit moves when only the other images'
  labels change (`other_labels_share`: a projection summed with .sum() and no dim, which still learns the labels, 5 of
  5), or that folds two labels into one, as G above.
- real images with their labels (2, visible): `probes_a6.step_calls` runs one `train_step` with
  the grader's stand-ins for G(z, y) and D(x, y) (`probes_a6.stand_in_generator` /
  `stand_in_discriminator`, the given DCGAN networks, which take y and ignore it (G marks one corner pixel with it,
  so that G(z, y1) and G(z, y2) for one z are told apart); the stand-in D returns
  its scores in the student's D's form, (N,) or (N, 1), logits or probabilities (`d_form`), so that a
  step written for that D runs; both take their arguments by the names the student's G's and D's forward give
  them, so that a step calling G(noise=z, labels=y_fake) for a forward(self, noise, labels) runs; the step is graded
  on its own, by what it passes them) and fresh Adam optimizers on 150 real digits, 15 of each
  class in a seeded order, recording every call of G and D with its inputs (also through keywords, in
  forward's order, and calls of G.forward; labels (B,) or (B, 1), or one-hot rows); each real image D
  judged (found by its pixels, also under instance noise: `same_rows`) must come with its own label,
  in some call that gives every real image there its own (then further calls with other labels are a
  matching-aware D's mismatch term, as in Reed et al. 2016, and right). Only the calls whose logits a backward()
  reached count, when some did (`step_calls`' "used"): a call for a log (D(real, labels).mean().item(), or under
  torch.no_grad()) teaches D nothing, and a step that logged the real images with their labels but trained D on them
  with the fake batch's labels was taken for a matching-aware D (4 of 4). Shuffled labels (a permutation
  of the batch's), labels changed by a rule (each real k shown as one other label, as (k + 1) mod 10), the
  fake batch's labels, or no real images at all are told apart. A step that raises with the
  stand-ins is told by what the call that raised was given, when that is the fault (`step_calls`
  returns the calls so far with the error): G or D called with the labels first (G(y_fake, z)), or
  without them (G(z), as in dcgan_step); otherwise by its error.
- labels for the fake batch (2, hidden): in the same recorded step, the labels G gets must be
  drawn anew over every class: not the real batch's labels (also not reordered: a step on 12 real
  7s must ask G for other digits too, nor computed from them by a rule, as (labels + 1) % 10), new
  at every step (two calls of the step on the same 12 real 7s must not ask G for the very same
  labels: a label vector drawn once outside the step, a slice of a fixed one such as the
  notebook's sweep, or a seed set inside the step, which is told when z repeats too), none outside
  0..9, one per image (not one label repeated for the whole batch), and every label 0..9 among the 150 (torch.randint's upper bound is exclusive; a
  uniform draw misses a label with probability about 1e-6); and every fake image D judged (found
  by its pixels among G's outputs) must come with the label G drew it for. Each of the two faults
  costs 1 point.
- learning the labels (5, hidden): `probes_a6.start_training` and `continue_training` train the
  student's G and D with the student's `train_step` for up to 500 seeded steps (batch 32, Adam lr
  2e-3, betas (0.5, 0.999)) on scikit-learn's digits with their labels, and return G(z, y) every
  50 steps for the same 36 z with each label 0..9 (uint8); a run stops at the first checkpoint
  where it has passed; a G that already draws digits (FID at the target) or the digits asked for (AGREE_SLOW)
  before the first step, at the weights its constructor gives, scores 0 (trained weights loaded, or stored
  images blended in, unless they are copies, which the copy check names). Here, on the grader's side, the grader's own digit classifier
  (`reference.grading.learning.reference_and_known("digits")`, never a file of the submission)
  reads every sample: the class agreement of a run is the largest share of samples read as their
  label at any checkpoint after step 0. A G that ignores y scores exactly 10% (each z is one digit,
  which matches one label in ten). A run passes when its agreement is at least AGREE and its
  classifier-FID reached `learning.TARGET` of the single-image floor, with new images for new z: at
  that checkpoint at most `learning.TWIN_SHARE` of the samples have a twin (`learning.twin_share`:
  another sample of their label that is the same drawing; 100% for a G that ignores z, or scales it to
  a thousandth, or lets its sign pick one of two or four drawings per label), and the grader's
  classifier sees the samples of every label differ at least LABEL_SPREAD as much as real digits of
  that label do (`learning.group_spread` of its features: a G that ignores z for half the labels, or
  whose z barely moves its drawings, falls below); most of seeds 0, 1 (and 2 when they disagree) must
  pass; 2 points when most runs draw the digits asked for but not varied so (one image per label or a
  few); 4 points when they pass but an optimizer of the step applies gradients
  left over from before (`stale_gradient_fault`: no zero_grad(), or D's cleared right after its step,
  before G's backward() through D fills them again) or the gradient of the other player's loss
  (`crossed_gradient_fault`: D's loss reaching G through a fake batch not detached, with G's gradients
  not cleared before G's backward(); G's step first and D's not cleared before D's backward()), or its
  losses are inf or nan once D's logits are in the hundreds (`unstable_loss_fault`: log(sigmoid(x)) written by hand instead of LOSS). 3 points when some run reaches AGREE_SLOW (slowly, or on one seed
  only), 1 when it learns digits (the FID) but not the labels, 0 otherwise; samples that copy known
  digits (`learning.copy_share` on the checkpoints of the best FID, the best agreement and the
  last) score 0. A step that raises there because it calls G or D with the labels first or without
  them, draws labels outside 0..9 for the fake batch, gives G or D its labels as floats (which F.one_hot and
  nn.Embedding refuse) or as integers other than int64 (which F.one_hot refuses), or gives G noise that is not
  (B, nz), is told so; a G never updated because D judges its images only detached (`step_calls` records whether
  they require grad) is told that; the hint of a G or D with no convolution (an MLP) names that. The
  hint names the first fault the other checks find, then a step that
  judges real and fake images in one call of a D with BatchNorm, stale or crossed gradients, and a D whose
  logits start large (`probes_a6.initial_logits`: above LARGE_LOGITS on real digits at init, as
  with a projection embedding left at nn.Embedding's N(0, 1) init), and a D whose label joins the image only
  after its convs reduced it to one or two numbers (`summary_label_fault`). AGREE_CALIBRATION holds the
  measured agreements: at 500 steps sound designs 0.53-0.80 where they pass (a run stops there), every
  wrong one 0.10-0.11, slow ones (an MLP, a projection embedding at N(0, 1)) 0.30-0.41. A G or D whose widths
  ignore ngf or ndf is not trained and scores 0, told why (see the check's docstring).

Points: 2 + 1 + 2 + 2 + 2 + 2 + 2 + 5 = 18.
"""

from __future__ import annotations

import math
import re

import torch

from reference.grading import NAMESPACE, Partial, StudentError, check
from reference.grading.checks import CHANGED_AFTER_TANH, END_WITH_TANH, REACH, SQUASHING, batch_hint, clean_text, ignored_noise, ignores_width
from reference.grading.checks import built_network, call_text, one_sided_logit, parameter_count, short_of_one
from reference.grading import probes, probes_a6
from reference.grading.proxy import finite

ASSIGNMENT = "a6_conditional_gan"
NZ, NGF, NDF, NUM_CLASSES = 100, 16, 16, 10  # the checks build G and D at width 16: fast, the same code as 64
GENERATOR, DISCRIMINATOR, STEP = "ConditionalGenerator", "ConditionalDiscriminator", "train_step"
ANSWERS = ("reference.models.conditional",)  # the library's conditional G and D: networks built from them score nothing
LABEL_CASES = {  # every label batch G and D must take: name -> labels
    "every digit": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    "0s": [0, 0, 0],
    "9s": [9, 9, 9],
    "mixed": [7, 2, 9, 0, 4],
    "one image": [4],
}
CHANGES = 1e-5  # an output changes when it moves by more than this share of its mean size (ignoring y moves it by 0)
ADDITIVE = 1e-4  # the change with y differs between inputs by at most this share: the label only adds a constant
COUPLING = 1e-4  # image i of a batch may differ from its own G(z[i], y[i]) by this share of the largest value (rounding)
LARGE_LOGITS = 10.0  # D's mean |logit| on real digits at init above this: its losses start saturated (projection: about 50)
Z_SCALE = 1000.0  # z (or D's images) scaled up in the range checks when scaled weights alone leave the output short of -1 and 1 (or D's in [0, 1]): spectral norm
REPEATED = 1e-5  # the same inputs twice (eval mode) may give outputs this share of the largest value apart (rounding)
SAME_PIXELS = 1e-4  # an image D judged is one of the real (or G's) images when no pixel differs by more
NOISY = 0.25  # ... or that image with noise added (instance noise, as in Sonderby et al. 2016): RMS distance at most this,
WHITE = 0.3  # ... and the difference white noise: neighbouring pixels' differences correlate less (two digits' differ in strokes)
ORDINAL_CORRELATION = 0.7  # a label read as a number: output distances follow |i - j| (see reads_the_label_as_a_number)
ORDINAL_RATIO = 3.0  # ... and labels 7-9 apart are this many times as far apart as neighbouring labels
PER_LABEL = 15  # real images of each class in the recorded step: G must be asked for every label among 150 draws
ONE_HOT = "F.one_hot(y, num_classes)"


# ---------------------------------------------------------------------------------------------
# What comes back from the submission: untrusted, so every value is checked before it is used
# ---------------------------------------------------------------------------------------------


def text(value, limit: int = 300) -> str:
    """Untrusted text as one printable line of at most `limit` characters."""
    return clean_text(value, limit)


def dims(value) -> list[int] | None:
    """A shape sent back by a probe, or None."""
    if isinstance(value, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        return list(value)
    return None


def shape_text(shape, batch: int | None = None) -> str:
    """"(N, 1, 28, 28)" for a batch of `batch`, the exact shape otherwise."""
    items = list(shape)
    if items and batch is not None and items[0] == batch:
        items[0] = "N"
    return "(" + ", ".join(str(d) for d in items) + ("," if len(items) == 1 else "") + ")"


def noise(n: int, nz: int = NZ, seed: int = 1) -> torch.Tensor:
    """Seeded z (n, nz)."""
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))


def images(n: int, seed: int = 1) -> torch.Tensor:
    """Seeded images (n, 1, 28, 28) with values in [-1, 1]."""
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def built(submission, name: str, seed: int = 0, **kwargs):
    """The student's `name(**kwargs)`, built with `seed` in training mode (in the worker when graded); the faults
    `built_network` names raised, and a network made from the course library's own conditional DCGAN."""
    call = call_text(name, kwargs)
    model = built_network(submission, probes_a6.make, name, seed, NAMESPACE, kwargs, "subclass nn.Module and call super().__init__()")
    origins = submission.run(probes_a6.module_origins, model)
    for origin in origins if isinstance(origins, list) else []:
        where, qualname = (text(v, 80) for v in origin[1:3]) if isinstance(origin, list) and len(origin) == 3 else ("", "")
        if any(where == m or where.startswith(m + ".") for m in ANSWERS):
            raise AssertionError(
                f"{call} is built from {where}.{qualname}, the course library's conditional DCGAN (lesson 7), which holds "
                f"what this assignment asks you to write: write it yourself in the notebook, from the given DCGAN "
                f"(reference.models.dcgan)"
            )
    return model


def generator(submission, nz: int = NZ, seed: int = 0):
    return built(submission, GENERATOR, seed, nz=nz, ngf=NGF, num_classes=NUM_CLASSES)


def discriminator(submission, seed: int = 0):
    return built(submission, DISCRIMINATOR, seed, ndf=NDF, num_classes=NUM_CLASSES)


def parameter_total(submission, name: str, **kwargs) -> int | None:
    """The parameter count of the student's `name(**kwargs)`; None when it cannot be built so."""
    try:
        model = built(submission, name, **kwargs)
    except (StudentError, AssertionError):  # a network that cannot be built at that width: not this measure's fault
        return None
    return parameter_count(submission.run(probes.module_summary, model))


def width_fault(submission, role: str) -> str | None:
    """`ignores_width`'s message when G ("G", ngf) or D ("D", ndf) has the same parameter count at width 16 and
    32: its layers take their widths from elsewhere (a global, or a tutorial's fixed 128 channels); else None."""
    name, arg, width = (GENERATOR, "ngf", NGF) if role == "G" else (DISCRIMINATOR, "ndf", NDF)
    extra = {"nz": NZ} if role == "G" else {}
    counts = tuple(parameter_total(submission, name, **extra, **{arg: w}, num_classes=NUM_CLASSES) for w in (width, 2 * width))
    return ignores_width(counts, name, arg, width)


def width_partial(fault: str, arg: str, width: int) -> Partial:
    """The visible checks' deduction for a network whose widths ignore `arg`, saying what it costs in the learning check."""
    return Partial(1, f"{fault}: the checks build it at {arg} = {width}, and the learning check trains G and D only "
                      f"there: it does not train a network whose widths ignore {arg}")


# ---------------------------------------------------------------------------------------------
# Shapes: what a call returns, which layer raised, and which labels it depends on
# ---------------------------------------------------------------------------------------------


def clean_call(call) -> dict | None:
    """One leaf call of a trace, every field checked; None when it is malformed."""
    if not isinstance(call, dict):
        return None
    ints = {k: call.get(k) if isinstance(call.get(k), int) and not isinstance(call.get(k), bool) else None
            for k in ("in_channels", "in_features", "num_embeddings", "weights")}
    name = call.get("name")
    return {"name": text(name, 80) if isinstance(name, str) else None, "type": text(call.get("type"), 60) or "a layer",
            "repr": text(call.get("repr"), 160), "in": dims(call.get("in")), "out": dims(call.get("out")), **ints}


def traced(submission, model, inputs: list) -> dict:
    """`probes_a6.trace` of model(*inputs), checked: {"output", "kind", "calls", "failed" (a call or None), "error"}."""
    result = submission.run(probes_a6.trace, model, inputs, NAMESPACE)
    result = result if isinstance(result, dict) else {}
    calls = [clean_call(c) for c in result.get("calls")] if isinstance(result.get("calls"), list) else []
    calls = calls if all(c is not None for c in calls) else []
    failed = result.get("failed")
    failed = calls[failed] if isinstance(failed, int) and not isinstance(failed, bool) and 0 <= failed < len(calls) else None
    output = result.get("output") if isinstance(result.get("output"), torch.Tensor) else None
    kind = result.get("output_type") if isinstance(result.get("output_type"), dict) else {}
    error = result.get("error") if isinstance(result.get("error"), dict) else None
    if output is None and error is None and not kind:
        error = {"type": "an exception", "message": "the call could not be traced"}
    return {"output": output, "kind": text(kind.get("type"), 60) or "nothing", "calls": calls, "failed": failed, "error": error}


def layer(call: dict) -> str:
    """"`main.1` (Linear(in_features=110, ...))", or the layer's class for an unregistered one."""
    module = f"{call['type']}({call['repr']})"
    return f"`{call['name']}` ({module})" if call["name"] else f"an unregistered {module}"


CAT_DIM_0 = re.compile(r"Sizes of tensors must match except in dimension 0")  # torch.cat([z, one_hot]) with no dim
CAT_DIM_HINT = (
    ": torch.cat joins along dim 0 by default, the batch; join the label along the features or channels, "
    "torch.cat([z, one_hot], dim=1) in G, torch.cat([x, label_maps], dim=1) in D"
)


def fixed_tensor_text(fixed: int, batch: int) -> str:
    """batch_hint's words for a tensor of forward's own made for a fixed batch (a one-hot made as
    torch.zeros(64, num_classes), a tensor with the training batch written in)."""
    return (f": a tensor in forward is made for a fixed batch of {fixed} (as torch.zeros({fixed}, num_classes) makes a "
            f"one-hot), but batches have any size N (here {batch}): make it from the labels, {ONE_HOT}, or size it from "
            f"the input, y.shape[0]")


def raised_text(run: dict, batch: int) -> str:
    """What raised in a traced call: the layer, and the fix for a size mismatch."""
    err = StudentError.from_info(run["error"])
    if err.not_implemented:
        raise err
    call = run["failed"]
    if call is None:
        return (f"raises {err.type}: {err.message}" + (f" (in `{err.where.split('.<locals>.')[-1]}`)" if err.where else "")
                + (CAT_DIM_HINT if CAT_DIM_0.search(err.message) else batch_hint(err.message, batch, fixed_tensor_text)))
    got = call["in"]
    joined = (
        "where the label joins, that is the size of z or of the image's channels or features plus the label's "
        f"(num_classes = {NUM_CLASSES} for a one-hot)"
    )
    if call["num_embeddings"] is not None and call["num_embeddings"] < NUM_CLASSES:
        return (f"raises in {layer(call)}: it has {call['num_embeddings']} rows, but the labels run 0..{NUM_CLASSES - 1}: "
                f"nn.Embedding(num_classes, d)")
    if call["in_channels"] is not None and got and len(got) >= 2 and got[1] != call["in_channels"]:
        return (f"raises in {layer(call)}: it takes {call['in_channels']} channels but gets {shape_text(got, batch)}; its "
                f"in_channels must be the channels that reach it ({got[1]}): {joined}")
    if call["in_features"] is not None and got and got[-1] != call["in_features"]:
        return (f"raises in {layer(call)}: it takes {call['in_features']} features but gets {shape_text(got, batch)}; its "
                f"in_features must be the size that reaches it ({got[-1]}): {joined}")
    if call["type"] == "Unflatten" and got and "unflatten" in err.message.lower():  # the given Generator's first layer
        return (f"raises RuntimeError in {layer(call)} on its input {shape_text(got, batch)}: {err.message}; the given "
                f"Generator(nz_in, ...) unflattens exactly nz_in numbers per sample: nz_in must be the size that reaches it, "
                f"z's (the `nz` argument) plus the label's (num_classes = {NUM_CLASSES} for a one-hot)")
    return (f"raises {err.type} in {layer(call)}" + (f" on its input {shape_text(got, batch)}" if got else "") + f": {err.message}"
            + batch_hint(err.message, batch, fixed_tensor_text))


def generator_fault(run: dict, batch: int) -> str | None:
    """Why G(z, y) is not (N, 1, 28, 28) for a batch of `batch`, in words; None when it is."""
    if run["error"] is not None:
        return raised_text(run, batch)
    out = run["output"]
    if out is None:
        return f"returns a {run['kind']}, not a tensor of floats"
    shape = list(out.shape)
    if shape == [batch, 1, 28, 28]:
        return None
    told = f"returns {shape_text(shape, batch)}"
    if not shape or shape[0] != batch:
        return f"{told} for a batch of {batch}: keep one image per (z, y) pair; join the label to z along dim 1, not dim 0"
    if len(shape) == 4 and shape[2:] == [28, 28]:
        return f"{told}: {shape[1]} channels; the digits have 1: the last stage makes 1 channel"
    return f"{told}: keep the given generator's ladder 4 -> 7 -> 14 -> 28 and its last stage nn.ConvTranspose2d(ngf, 1, 4, 2, 1)"


def discriminator_fault(run: dict, batch: int) -> str | None:
    """Why D(x, y) is not one value per image for a batch of `batch`, in words; None when it is."""
    if run["error"] is not None:
        return raised_text(run, batch)
    out = run["output"]
    if out is None:
        return f"returns a {run['kind']}, not a tensor of floats"
    if out.numel() == batch and (out.shape[:1] == (batch,) or (batch == 1 and out.dim() == 0)):  # .squeeze(): () for one
        return None
    told = f"returns {shape_text(out.shape, batch)}"
    if out.dim() == 0 or out.shape[0] != batch:
        return f"{told} for a batch of {batch}: one logit per image; join the label to each image, not to the batch (dim 1, not dim 0)"
    return f"{told}: one logit per image, (N,) or (N, 1): reduce the last features to one value per image and view it as (N,)"


def label_fault(faults: dict[str, str | None], role: str) -> str | None:
    """The one sentence for what fails on which label batches (faults: case -> fault or None)."""
    bad = [case for case, fault in faults.items() if fault is not None]
    if not bad:
        return None
    if "9s" in bad and "0s" not in bad:
        return (
            f"{role} takes labels 0 but not labels 9 (for 9s it {faults['9s']}): its one-hot or embedding has fewer than "
            f"num_classes = {NUM_CLASSES} entries, while the labels run 0..{NUM_CLASSES - 1}: size it with num_classes, "
            f"{ONE_HOT} or nn.Embedding(num_classes, d)"
        )
    if "0s" in bad and "every digit" not in bad:
        return (
            f"{role} takes a batch that holds a 9 but not a batch of 0s (for 0s it {faults['0s']}): F.one_hot(y) without "
            f"num_classes makes the one-hot as long as the batch's largest label plus one, so its size changes from batch "
            f"to batch; pass num_classes: {ONE_HOT}"
        )
    if bad == ["one image"]:
        return (
            f"{role} works for batches of 3 to 10 but not for a batch of one image (for y = {LABEL_CASES['one image']} it "
            f"{faults['one image']}): something in its forward drops the batch dimension when N = 1, as .squeeze() without "
            f"a dim does (y.squeeze() of a (1,) or (1, 1) tensor is a scalar); squeeze only the dimension you mean, "
            f"y.view(-1) or .squeeze(1)"
        )
    first = bad[0]
    if len(bad) < len(faults):
        worked = ", ".join(f"y = {LABEL_CASES[c]}" for c in faults if faults[c] is None)
        return f"{role} for y = {LABEL_CASES[first]} {faults[first]} (it works for {worked})"
    return f"{role} {faults[first]}"


def labels_taken(submission, model, first, fault_of) -> list[int]:
    """The labels k of -NUM_CLASSES..2 * NUM_CLASSES - 1 with which model(first(3), [k, k, k]) runs (eval mode) and
    fault_of finds nothing wrong with its output."""
    ks = list(range(-NUM_CLASSES, 2 * NUM_CLASSES))
    results = submission.run(probes_a6.outputs, model, [[first(3), torch.full((3,), k)] for k in ks], NAMESPACE)
    results = results if isinstance(results, list) and len(results) == len(ks) else []
    taken = []
    for k, result in zip(ks, results):
        result = result if isinstance(result, dict) else {}
        output = result.get("output") if isinstance(result.get("output"), torch.Tensor) else None
        if result.get("error") is None and output is not None and fault_of({"error": None, "output": output}, 3) is None:
            taken.append(k)
    return taken


def label_shape_fault(submission, model, first, fault_of, role: str) -> str | None:
    """label_fault of model(first(n), y) over LABEL_CASES, told by which labels the model takes: labels used
    with an offset (it takes num_classes labels, but not 0..num_classes-1), or a model that takes one-hot rows
    but not the integer labels it is given."""
    faults = {case: fault_of(traced(submission, model, [first(len(y)), torch.tensor(y)]), len(y)) for case, y in LABEL_CASES.items()}
    bad = [case for case, fault in faults.items() if fault is not None]
    if not bad:
        return None
    name = role[0]
    if len(bad) == len(faults):
        rows = torch.nn.functional.one_hot(torch.arange(NUM_CLASSES), NUM_CLASSES).float()
        if fault_of(traced(submission, model, [first(NUM_CLASSES), rows]), NUM_CLASSES) is None:
            return (
                f"{role} {faults[bad[0]]} when y holds integer labels (N,), and runs when y holds one-hot rows (N, "
                f"{NUM_CLASSES}): it expects y one-hot, but {name} is given the labels as integers, y int64 (N,) in "
                f"0..{NUM_CLASSES - 1} (the grader calls it so, as the task says): make the one-hot inside forward, "
                f"{ONE_HOT}.float() (or embed y with nn.Embedding(num_classes, d)), and pass train_step's integer labels "
                f"to {name} as they are"
            )
        y = torch.tensor(LABEL_CASES["every digit"])
        if fault_of(traced(submission, model, [y, first(len(y))]), len(y)) is None:
            given = "z" if name == "G" else "x"
            return (
                f"{role} {faults[bad[0]]}, and runs when called with the labels first, {name}(y, {given}): its forward "
                f"takes its arguments in the other order; the grader (and the task) calls {role}, so define "
                f"forward(self, {given}, y), and call {name}({given}, y) in train_step"
            )
        return label_fault(faults, role)
    taken = labels_taken(submission, model, first, fault_of)
    low = taken[0] if taken else 0
    if low != 0 and taken == list(range(low, low + NUM_CLASSES)):
        shift = -low
        missing = ", ".join(str(k) for k in range(NUM_CLASSES) if k not in taken)
        case = next(c for c in ("9s", "0s", *bad) if c in bad)
        return (
            f"{role} takes the labels {low}..{low + NUM_CLASSES - 1} but not {missing} (for {case} it {faults[case]}): it "
            f"shifts y by {shift:+d} before its one-hot or embedding, as F.one_hot(y {'+' if shift > 0 else '-'} {abs(shift)}, "
            f"num_classes) does; the labels run 0..{NUM_CLASSES - 1} and are used as given: {ONE_HOT}"
        )
    return label_fault(faults, role)


def generator_shape_fault(submission, G) -> str | None:
    """label_shape_fault of G(z, y) at nz = NZ."""
    return label_shape_fault(submission, G, noise, generator_fault, "G(z, y)")


def discriminator_shape_fault(submission, D) -> str | None:
    """label_shape_fault of D(x, y)."""
    return label_shape_fault(submission, D, images, discriminator_fault, "D(x, y)")


def outputs_of(submission, model, cases: list, **options) -> list[torch.Tensor] | str:
    """Each case's floating output (probes_a6.outputs, eval mode), or the first failure in words."""
    results = submission.run(probes_a6.outputs, model, cases, NAMESPACE, **options)
    results = results if isinstance(results, list) and len(results) == len(cases) else [{}] * len(cases)
    outs = []
    for case, result in zip(cases, results):
        result = result if isinstance(result, dict) else {}
        if isinstance(result.get("error"), dict):
            err = StudentError.from_info(result["error"])
            if err.not_implemented:
                raise err
            return f"raises {err.type}: {err.message}" + batch_hint(err.message, len(case[0]), fixed_tensor_text)
        out = result.get("output")
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            kind = result.get("output_type") if isinstance(result.get("output_type"), dict) else {}
            return f"returns a {text(kind.get('type'), 60) or 'value'}, not a tensor of floats"
        outs.append(out.double())
    return outs


def range_outputs(submission, model, case: list) -> tuple:
    """outputs_of the model as built and with its weights scaled up 25 times (only a squashing last layer keeps
    the outputs bounded then). Outputs that are all one constant (a last layer initialised at zero: every pixel
    or logit 0) are measured again with every weight jittered, as the first training step moves it."""
    plain, scaled = outputs_of(submission, model, case), outputs_of(submission, model, case, scale=25.0)
    if isinstance(plain, str) or isinstance(scaled, str):
        return plain, scaled
    values = torch.cat([plain[0].flatten(), scaled[0].flatten()])
    if values.numel() and bool((values == values[0]).all()):
        plain, scaled = outputs_of(submission, model, case, jitter=0.02), outputs_of(submission, model, case, scale=25.0, jitter=0.5)
    return plain, scaled


def d_range(submission, D, case: list, plain: list, scaled: list) -> tuple[float, float]:
    """The lowest and highest of D's outputs as built and with its weights scaled up (`range_outputs`), and, where
    they stay in [0, 1], with the images scaled up Z_SCALE times too: a D whose weights are spectrally normalised
    (SNGAN's D, without BatchNorm) gives the same logits with its weights scaled up, small ones at init, all in
    [0, 1] for some designs (it scored 1 of 2, told it ends in a sigmoid), while larger images still move them
    anywhere; only a last layer that squashes them (a sigmoid) keeps them in [0, 1] then."""
    values = torch.cat([plain[0].flatten(), scaled[0].flatten()])
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        pushed = outputs_of(submission, D, [[case[0][0] * Z_SCALE, case[0][1]]], scale=25.0)
        if isinstance(pushed, list) and pushed[0].numel() and bool(torch.isfinite(pushed[0]).all()):
            low, high = min(low, float(pushed[0].min())), max(high, float(pushed[0].max()))
    return low, high


# ---------------------------------------------------------------------------------------------
# Does the output depend on y (and z)?
# ---------------------------------------------------------------------------------------------


def dependence(submission, model, first, second, y, **seeded) -> dict | str:
    """How model(first, y) moves with y and with `first`, as built and jittered (eval mode).

    y' = (y + 5) mod 10 changes every label; `second` holds other z (or images). Returns, each the
    larger of the model as built and with its weights jittered: {"y": mean|f(a, y) - f(a, y')| /
    mean|f(a, y)|, "other": the same for a -> a', "interaction": how much the change with y differs
    between a and a', mean|(f(a, y) - f(a, y')) - (f(a', y) - f(a', y'))| / mean|f(a, y) - f(a, y')|
    (0 when the label only adds a constant per class), "coupled": max |f(a, y)[i] - f(a[i], y[i])| /
    max |f(a, y)|, as built, or None when the model raises for a batch of one (the shape checks tell that)},
    or the first failure in words. `seeded` ({"rng_seed": n}) runs each call from one RNG state: a D with
    randomness in forward (`stable_label_effect`) is measured as a fixed function.
    """
    other_y = (y + 5) % NUM_CLASSES
    rows = (0, 3, len(y) - 1)
    cases = [[first, y], [first, other_y], [second, y], [second, other_y]]
    found: dict = {"y": 0.0, "other": 0.0, "interaction": 0.0, "coupled": 0.0}
    for options in ({}, {"jitter": 0.02, "seed": 3}):
        outs = outputs_of(submission, model, cases, **options, **seeded)
        if isinstance(outs, str):
            return outs
        base, by_y, by_other, by_both = outs[:4]
        if not (base.shape == by_y.shape == by_other.shape == by_both.shape and base.shape[:1] == y.shape):
            return "gives outputs of another shape when only the labels or the inputs change"
        if not all(torch.isfinite(o).all() for o in outs):
            return "gives NaN or infinite values"
        size, moved = float(base.abs().mean()), float((base - by_y).abs().mean())
        if size > 0:
            found["y"] = max(found["y"], moved / size)
            found["other"] = max(found["other"], float((base - by_other).abs().mean()) / size)
        if moved > 0:
            found["interaction"] = max(found["interaction"], float(((base - by_y) - (by_other - by_both)).abs().mean()) / moved)
        singles = outputs_of(submission, model, [[first[i : i + 1], y[i : i + 1]] for i in rows]) if not options and not seeded else []
        if isinstance(singles, str):  # a batch of one raises: not a use of the labels (the shape checks tell it)
            found["coupled"] = None
            continue
        if not options:
            top = float(base.abs().max()) or 1.0
            for row, single in zip(rows, singles):  # compared by value: a D ending in .squeeze() gives () for one image
                if single.numel() != base[row].numel():
                    return (f"gives {single.numel()} values for a batch of one, but {base[row].numel()} per item for a batch "
                            f"of {len(y)}: its output's size per item must not depend on the batch size")
                found["coupled"] = max(found["coupled"], float((single.reshape(-1) - base[row].reshape(-1)).abs().max()) / top)
    return found


RANDOM_IN_FORWARD = "is random at every call"
STABLE_EFFECT = 0.5  # the cosine two seeded calls' label effects must reach for D's randomness to leave its label path alone


def stable_label_effect(submission, D, x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether D's randomness in forward leaves what the label does to its logits in place: with torch's RNG seeded
    alike for both calls, D(x, y) - D(x, y') under two seeds point the same way (cosine above STABLE_EFFECT). Dropout
    (F.dropout without training=self.training) or instance noise in forward keep the label path, which training
    sees (D only ever runs in training mode); a label embedding drawn in forward (F.embedding(y, torch.randn(...)))
    turns it at every call."""
    other = (y + 5) % NUM_CLASSES
    effects = []
    for rng_seed in (11, 12):
        outs = outputs_of(submission, D, [[x, y], [x, other]], rng_seed=rng_seed)
        if isinstance(outs, str) or outs[0].shape != outs[1].shape:
            return False
        effects.append((outs[0] - outs[1]).reshape(-1))
    a, b = effects
    size = float(a.norm() * b.norm())
    return size > 0 and float((a * b).sum()) / size > STABLE_EFFECT


def made_in_forward_fault(submission, model, inputs: list, role: str) -> str | None:
    """Whether `model` is a fixed function of its inputs: it runs no layer with weights that is not registered
    in it (`probes_a6.trace`), and the same inputs twice in eval mode give the same output. None when both
    hold, or when the model raises (the other checks word that)."""
    outs = outputs_of(submission, model, [inputs, inputs])
    if isinstance(outs, str) or outs[0].shape != outs[1].shape:
        return None
    gap = (outs[0] - outs[1]).abs()
    apart = float(gap.max()) / (float(outs[0].abs().max()) or 1.0) if bool(torch.isfinite(gap).all()) else 1.0
    layers = list(dict.fromkeys(f"{c['type']}({c['repr']})" for c in traced(submission, model, inputs)["calls"]
                                if c["name"] is None and c["weights"]))
    name, opt = role[0], f"opt_{role[0].lower()}"
    given = "z and y" if name == "G" else "images and labels"
    spelled = [("nn." if hasattr(torch.nn, layer.split("(")[0]) else "") + layer for layer in layers[:2]]
    named = " and ".join(f"`{layer}`" for layer in spelled)
    example = f"self.{layers[0].split('(')[0].lower()} = {spelled[0]}" if layers else ""
    if layers and apart > REPEATED:
        return (
            f"{role} makes {named} in forward: a layer made there is not registered in {name}, so it is new and random at "
            f"every call (the same {given} twice in eval mode give outputs {apart:.0%} of the largest value apart) and "
            f"never trained ({opt} never sees its weights); make it once in __init__ ({example}) and only "
            f"call it in forward"
        )
    if layers:
        return (
            f"{role} calls {named}, which is not registered in {name} (kept in a plain Python list or dict, or made "
            f"outside the class), so {opt} never sees its weights and it is never trained; assign it in __init__ as an "
            f"attribute ({example}), or keep such layers in nn.ModuleList"
        )
    if apart > REPEATED:
        return (
            f"{role} gives other outputs for the same {given} twice in eval mode ({apart:.0%} of the largest value "
            f"apart): something in its forward {RANDOM_IN_FORWARD} (weights made there, as in F.embedding(y, "
            f"torch.randn(...)), torch.rand, or F.dropout without training=self.training), so {name} cannot learn what "
            f"a label means; make its weights once in __init__, as layers or nn.Parameter"
        )
    return None


def generator_label_fault(submission, G) -> tuple[float, str] | None:
    """(points lost of 2, what is wrong) about G's use of y and z; None when each image follows its own z and y."""
    y = torch.arange(8) % NUM_CLASSES
    fault = made_in_forward_fault(submission, G, [noise(8), y], "G(z, y)")
    unused = ignored_noise(submission.run(probes.noise_reach, G, noise(8), y), NZ, "G(z, y)")
    if fault is not None and unused is not None and RANDOM_IN_FORWARD in fault:
        return 1.0, unused  # noise drawn inside forward for the z it is given: z ignored, told as such
    if fault is not None:
        return 2.0, fault
    found = dependence(submission, G, noise(8), noise(8, seed=2), y)
    if isinstance(found, str):
        shape = generator_shape_fault(submission, G)
        return 2.0, f"G(z, y) {found}" if shape is None else shape
    if found["y"] <= CHANGES:
        return 2.0, (
            "G(z, y) draws the same images whatever the labels (the same z with y = 0..7 and with y = 5..12 mod 10 give "
            "the same output): G ignores y, so it cannot draw the digit it is asked for; join the label to z, e.g. "
            f"torch.cat([z, {ONE_HOT}.float()], dim=1), into a first layer that takes nz + num_classes"
        )
    if found["other"] <= CHANGES:
        return 1.0, (
            "G(z, y) draws the same image for every z of a label (other z with the same labels give the same output): "
            "it ignores z, so it has one drawing per digit; pass z through G together with the label"
        )
    if unused is not None:
        return 1.0, unused
    if found["coupled"] is not None and found["coupled"] > COUPLING:
        return 1.0, (
            f"in eval mode, image i of G(z, y) differs from G(z[i:i+1], y[i:i+1]) (by {found['coupled']:.1%} of the largest "
            f"value): each image must depend on its own z[i] and y[i] only; join z and the label along dim 1 and do not "
            f"mix labels across the batch (no mean, sum or reshape over dim 0)"
        )
    merged = merged_labels(submission, G, noise(8))
    if merged:
        return 1.0, f"G(z, y) draws the same images for {merged_text(merged, 'G')}"
    return None


def merged_labels(submission, model, inputs: torch.Tensor, **seeded) -> list[tuple[int, int]]:
    """The pairs of labels k < k' that `model` cannot tell apart: model(inputs, k) and model(inputs, k') the same (eval
    mode, each label for the whole batch) as built and with its weights jittered (a label path that starts at zero
    gives every label the same output as built). A one-hot or embedding with fewer entries than labels, reached through
    a clamp or a modulo (F.one_hot(y.clamp(max=8), 9), y % 9), folds two labels into one; sound designs give every label
    its own output. [] when every label has its own, or when it cannot be measured (the other checks word that)."""
    n = len(inputs)
    same = None
    for options in ({}, {"jitter": 0.02, "seed": 3}):
        outs = outputs_of(submission, model, [[inputs, torch.full((n,), k)] for k in range(NUM_CLASSES)], **options, **seeded)
        if isinstance(outs, str) or any(o.shape != outs[0].shape or not bool(torch.isfinite(o).all()) for o in outs):
            return []
        size = float(torch.stack(outs).double().abs().mean()) or 1.0
        pairs = {(k, j) for k in range(NUM_CLASSES) for j in range(k + 1, NUM_CLASSES)
                 if float((outs[k].double() - outs[j].double()).abs().mean()) / size <= CHANGES}
        same = pairs if same is None else same & pairs
    return sorted(same or ())


def merged_text(pairs: list[tuple[int, int]], role: str) -> str:
    """The words of `merged_labels`' fault for G ("G") or D ("D"), after "G(z, y) draws the same images for" or
    "D(x, y) gives the same logits for"."""
    shown = ", ".join(f"{k} and {j}" for k, j in pairs[:3]) + (", ..." if len(pairs) > 3 else "")
    given, cannot = (("the same z with either label gives the same images", "one of them can never be drawn") if role == "G"
                     else ("the same images with either label get the same logits", "it cannot tell them apart"))
    return (
        f"labels {shown} ({given}): it folds two labels into one, so {cannot} (a one-hot or embedding with fewer than "
        f"num_classes = {NUM_CLASSES} entries, reached through a clamp or a modulo, as F.one_hot(y.clamp(max=8), 9) or "
        f"y % 9 make it); give every label 0..9 its own entry: {ONE_HOT}, or nn.Embedding(num_classes, d)"
    )


def discriminator_label_fault(submission, D) -> str | None:
    """What is wrong with D's use of y; None when its logits move with the labels."""
    y = torch.arange(8) % NUM_CLASSES
    fault = made_in_forward_fault(submission, D, [images(8), y], "D(x, y)")
    seeded = {}
    if fault is not None and RANDOM_IN_FORWARD in fault:
        if stable_label_effect(submission, D, images(8), y):
            fault, seeded = None, {"rng_seed": 5}  # F.dropout or instance noise in forward: D only ever runs in training
        else:
            fault = (
                "D(x, y)'s label path is random at every call: with torch's random numbers drawn alike, what changing the "
                "labels does to its logits turns from one call to the next (weights drawn in forward, as in F.embedding(y, "
                "torch.randn(...))), so D cannot learn what a label means; make its weights once in __init__, as layers or "
                "nn.Parameter (dropout or noise in forward are fine: they leave the label's effect in place)"
            )
    if fault is not None:
        return fault
    found = dependence(submission, D, images(8), images(8, seed=2), y, **seeded)
    if isinstance(found, str):
        shape = discriminator_shape_fault(submission, D)
        return f"D(x, y) {found}" if shape is None else shape
    if found["y"] <= CHANGES:
        return (
            "D(x, y) gives the same logits whatever the labels (the same images with y = 0..7 and with y = 5..12 mod 10): "
            "D ignores y, so a real 3 labelled 7 looks as real to it as a real 7, and G has no reason to draw the digit it "
            "is asked for; join the label to D's input (one-hot maps as extra channels) or to its features before a "
            "nonlinear layer, or add a projection term"
        )
    if found["interaction"] <= ADDITIVE:
        return (
            "D(x, y) changes with y by the same amount whatever the image: the label only adds a constant per class (as "
            "when its vector joins the features right before a single linear layer), so D cannot tell whether an image "
            "matches its label; let the label meet the image in a nonlinear layer (extra input channels, or an MLP head "
            "after the convs), or use a projection <embed(y), phi(x)>"
        )
    if label_effect_rank_one(submission, D, **seeded):
        return (
            "D(x, y) changes with y only by rescaling one score of the image: for every label, the logits of a batch of "
            "images are one image score times a number (plus a number) of that label, as when the label multiplies D's "
            "final logit or a projection takes D's one-number output for phi(x); D then ranks the images alike whatever "
            "the label, so it cannot tell whether an image matches its label; let the label meet the image's features in "
            "a nonlinear layer (extra input channels, or an MLP head after the convs), or project onto the features "
            "the convs make, <embed(y), phi(x)> with phi(x) (N, F)"
        )
    x, order = images(8), torch.arange(7, -1, -1)  # the batch reversed: pairs (x[i], y[i]) kept, their places changed
    outs = outputs_of(submission, D, [[x, y], [x[order], y[order]]]) if not seeded else "random"  # dropout masks follow places
    if not isinstance(outs, str) and outs[0].shape == outs[1].shape and outs[0].shape[:1] == y.shape:
        top = float(outs[0].abs().max()) or 1.0
        moved = float((outs[1] - outs[0][order]).abs().max()) / top
        if moved > COUPLING:
            return (
                f"{MIXED_D} (by {moved:.1%} of the largest value): each image must be judged with its own label, whatever "
                f"its place in the batch, or D judges images with other images' labels; build the label's vector or maps "
                f"from y row by row (F.one_hot(y, num_classes)[:, :, None, None].expand(-1, -1, 28, 28)), with no transpose "
                f"or reshape across the batch"
            )
    others = other_labels_share(submission, D, **seeded)
    if others > OTHER_LABELS:
        return (
            f"{OTHER_LABELS_D} (by {others:.0%} of what changing its own label does): D judges each image with a sum or "
            f"mean over the batch's labels, as a projection summed with .sum() and no dim, or an embedding averaged over "
            f"the batch (embed(y).mean(0)), does; each image must be judged with its own label only: sum over the "
            f"features alone, (embed(y) * phi(x)).sum(1), and keep every operation on the labels row by row"
        )
    merged = merged_labels(submission, D, images(8), **seeded)
    if merged:
        return f"{MERGED_D}{merged_text(merged, 'D')}"
    return None


MIXED_D = "in eval mode, D's logits for a batch in reverse order are not its logits reversed"
OTHER_LABELS_D = "in eval mode, D's logit for an image changes when only the other images' labels change"
MERGED_D = "D(x, y) gives the same logits for "
OTHER_LABELS = 0.1  # ... by more than this share of what changing its own label does (sound designs: exactly 0)
RANK_ONE = 1e-4  # the label's effect on a batch's logits, centred, has rank one: its second singular value below this share of the first


def other_labels_share(submission, D, **seeded) -> float:
    """How much D's logit for an image moves when only the other images' labels change, as a share of how much it moves
    when its own label changes (eval mode; rows 0, 5 and 11 of 16 images; the larger of D as built and jittered, so that
    a projection that starts at zero counts). 0 when each image is judged with its own label only (BatchNorm in eval mode
    makes D a function of each image alone); about 1 or more for a label term summed or averaged over the batch. 0 when
    it cannot be measured (the other checks word that)."""
    x, y = images(16), torch.arange(16) % NUM_CLASSES
    share = 0.0
    for options in ({}, {"jitter": 0.02, "seed": 3}):
        cases = [[x, y]]
        for row in (0, 5, 11):
            own, others = y.clone(), (y + 5) % NUM_CLASSES
            own[row], others[row] = (y[row] + 5) % NUM_CLASSES, y[row]
            cases += [[x, own], [x, others]]
        outs = outputs_of(submission, D, cases, **options, **seeded)
        if isinstance(outs, str) or any(o.numel() != 16 or not bool(torch.isfinite(o).all()) for o in outs):
            return 0.0
        base = outs[0].reshape(-1).double()
        moved_own = sum(float((base[r] - outs[1 + 2 * k].reshape(-1)[r].double()).abs()) for k, r in enumerate((0, 5, 11)))
        moved_others = sum(float((base[r] - outs[2 + 2 * k].reshape(-1)[r].double()).abs()) for k, r in enumerate((0, 5, 11)))
        if moved_others > 0:
            share = max(share, moved_others / moved_own if moved_own > 0 else math.inf)
    return share


def label_effect_rank_one(submission, D, **seeded) -> bool:
    """Whether the labels only rescale (and shift) one score of each image: D(x, k) for 16 images and every label k
    (eval mode) as a matrix (images x labels), its change from label 0 centred over the images has rank one (second
    singular value below RANK_ONE of the first, as built and jittered): D(x, y) = a_y * h(x) + b_y, as when a learned
    number per class multiplies D's final logit. Sound designs measure 0.3-0.6 at init; an additive label (rank 0) is
    told before this. False when it cannot be measured."""
    x = images(16)
    ratios = []
    for options in ({}, {"jitter": 0.02, "seed": 3}):
        outs = outputs_of(submission, D, [[x, torch.full((16,), k)] for k in range(NUM_CLASSES)], **options, **seeded)
        if isinstance(outs, str) or any(o.numel() != 16 or not bool(torch.isfinite(o).all()) for o in outs):
            return False
        logits = torch.stack([o.reshape(-1).double() for o in outs], dim=1)  # (16 images, labels)
        effect = logits - logits[:, :1]
        effect = effect - effect.mean(0, keepdim=True)
        values = torch.linalg.svdvals(effect)
        if float(values[0]) > 1e-12 * max(1.0, float(logits.abs().max())):
            ratios.append(float(values[1] / values[0]))
    return bool(ratios) and max(ratios) < RANK_ONE


def reads_the_label_as_a_number(submission, model, inputs) -> bool:
    """Does `model` take y as a quantity (y, or y / 9, joined as one number) rather than as a category?

    Each of the `inputs` (z or images) goes through the model with every label 0..9 (eval mode, as built).
    With a one-hot or an embedding, every two labels are about as far apart in the output; with the number
    itself, the output moves smoothly along the labels, so labels far apart give outputs far apart: the
    distance between two labels' outputs follows |i - j| (correlation above ORDINAL_CORRELATION) and
    labels 7-9 apart are at least ORDINAL_RATIO times as far apart as neighbours (measured at init: about 1
    for one-hot and embeddings, 5-7.5 for the number, in G and in D).
    """
    n = len(inputs)
    outs = outputs_of(submission, model, [[inputs, torch.full((n,), k)] for k in range(NUM_CLASSES)])
    if isinstance(outs, str) or any(o.shape[:1] != (n,) for o in outs):
        return False
    per_input = torch.stack([o.reshape(n, -1) for o in outs], dim=1)  # (n, 10 labels, features)
    dist = torch.cdist(per_input, per_input).mean(0)  # (10, 10): mean distance between two labels' outputs
    i, j = torch.triu_indices(NUM_CLASSES, NUM_CLASSES, 1)
    d, gap = dist[i, j], (i - j).abs().double()
    if not torch.isfinite(d).all() or float(d[gap == 1].mean()) <= 0 or float(d.std()) == 0:
        return False
    correlation = float(torch.corrcoef(torch.stack([d, gap]))[0, 1])
    return correlation > ORDINAL_CORRELATION and float(d[gap >= 7].mean() / d[gap == 1].mean()) >= ORDINAL_RATIO


def label_number_fault(submission, G, D) -> str | None:
    """The hint for a G or D that takes the label as a number; None when both take it as a category."""
    for name, model, inputs in (("G", G, noise(8)), ("D", D, images(8))):
        if reads_the_label_as_a_number(submission, model, inputs):
            return (
                f"{name} seems to take the label as a number (its output moves steadily from y = 0 to y = 9, as with y or y / 9 "
                f"joined as one input): a 7 is not more than a 3, and a network can hardly learn ten different things from "
                f"one number; give {name} the label as a one-hot vector, {ONE_HOT}.float(), or an nn.Embedding(num_classes, d)"
            )
    return None


# ---------------------------------------------------------------------------------------------
# The training step: what G and D were called with
# ---------------------------------------------------------------------------------------------


_DIGITS: dict = {}


def digits():
    """scikit-learn's digits training split (uint8 images, int64 labels), loaded once (trusted code, here)."""
    if "train" not in _DIGITS:
        from reference.data import load_dataset

        _DIGITS["train"] = load_dataset("digits", split="train")
    return _DIGITS["train"]


def real_label_spread() -> torch.Tensor:
    """(NUM_CLASSES,) how much the grader's classifier sees real digits of each label differ: `learning.group_spread`
    of the features of the first PER_CLASS training digits of each label (trusted code and data, computed once)."""
    from reference.grading import learning
    from reference.metrics.quick_fid import grading_root

    key = f"spread@{grading_root()}"  # the classifier of this grading cache, as reference_and_known keys it
    if key not in _DIGITS:
        ref = learning.reference_and_known("digits")[0]
        data = digits()
        picks = torch.cat([torch.nonzero(data.labels == k)[:PER_CLASS, 0] for k in range(NUM_CLASSES)])
        features, _ = ref.extractor.features_and_logits(data.data[picks])
        _DIGITS[key] = learning.group_spread(features, data.labels[picks], NUM_CLASSES)
    return _DIGITS[key]


def real_batch(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (B, 1, 28, 28) in [-1, 1], labels (B,)) of real digits: "mixed", PER_LABEL of each class in
    a seeded order (B = 150); "sevens", twelve 7s (B = 12)."""
    data = digits()
    if kind == "mixed":
        picks = torch.cat([torch.nonzero(data.labels == k)[:PER_LABEL, 0] for k in range(NUM_CLASSES)])
        picks = picks[torch.randperm(len(picks), generator=torch.Generator().manual_seed(5))]
    else:
        picks = torch.nonzero(data.labels == 7)[:12, 0]
    return data.data[picks].float() / 127.5 - 1.0, data.labels[picks].clone()


def as_labels(value, n: int) -> torch.Tensor | None:
    """Labels (n,) int64 from what D or G was given as y: integers (n,) or (n, 1), or one-hot rows (n, K); else None."""
    if not isinstance(value, torch.Tensor) or value.shape[:1] != (n,) or not torch.isfinite(value.double()).all():
        return None
    if value.dim() == 1 or value.shape[1:] == (1,):
        return value.double().round().long().reshape(n)
    if value.dim() == 2 and value.shape[1] > 1:
        return value.double().argmax(1)
    return None


def neighbour_correlation(diff: torch.Tensor) -> torch.Tensor:
    """For each image of diff (n, ..., W), the correlation of horizontally neighbouring pixels' values (about 0 for
    white noise, near 1 for the difference of two images of strokes); 1 for a constant image."""
    d = diff.double().reshape(len(diff), -1, diff.shape[-1])
    d = d - d.mean(dim=(1, 2), keepdim=True)
    left, right = d[..., :-1].reshape(len(d), -1), d[..., 1:].reshape(len(d), -1)
    size = (left.pow(2).sum(1) * right.pow(2).sum(1)).sqrt()
    return torch.where(size > 0, (left * right).sum(1) / size.clamp_min(1e-300), torch.ones_like(size))


def same_rows(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """For each image of x (n, ...), the index of the image of ref (m, ...) it is, else -1: the image it equals (no
    pixel off by more than SAME_PIXELS), or the one it is with noise added (a step that adds instance noise to D's
    inputs, real + sigma * torch.randn_like(real), still judges those images).

    With noise: x lies within NOISY (RMS per pixel) of its nearest ref image j, well inside j's side of the midway
    between j and every other ref image k (|x - r_k|^2 - |x - r_j|^2 >= |r_j - r_k|^2 / 2: noise adds about the same
    to every distance, so the image noised is the nearest by a margin), and x - r_j is white noise (the correlation of
    horizontally neighbouring pixels' differences at most WHITE: another digit that looks much like r_j, as the
    8x8 digits drawn at 28x28 often do, differs from it in strokes, whose neighbouring pixels move together).
    """
    if len(ref) == 0 or x.shape[1:] != ref.shape[1:]:
        return torch.full((len(x),), -1, dtype=torch.long)
    a, b = x.reshape(len(x), -1).double(), ref.reshape(len(ref), -1).double()
    squared = torch.cdist(a, b) ** 2  # (n, m)
    # the largest pixel difference, for the pairs that can be within SAME_PIXELS of each other (within
    # sqrt(pixels) x SAME_PIXELS in the Euclidean distance): torch.cdist's max norm over all pairs costs 10x more
    largest = torch.full_like(squared, torch.inf)
    i, j = torch.nonzero(squared <= 2 * a.shape[1] * SAME_PIXELS**2, as_tuple=True)
    largest[i, j] = (a[i] - b[j]).abs().amax(dim=1)
    best, where = largest.min(dim=1)
    nearest_sq, nearest = squared.min(dim=1)
    margin = squared - nearest_sq[:, None] - torch.cdist(b, b)[nearest] ** 2 / 2  # (n, m): >= 0 inside j's side
    margin[torch.arange(len(a)), nearest] = 0.0
    white = neighbour_correlation(x - ref[nearest]) <= WHITE
    noisy = ((nearest_sq / a.shape[1]).sqrt() <= NOISY) & (margin >= 0).all(dim=1) & white
    return torch.where(best <= SAME_PIXELS, where, torch.where(noisy, nearest, torch.full_like(where, -1)))


def tensor_inputs(call) -> list[torch.Tensor]:
    """The tensors a recorded call of G or D was given, in forward's order; [] when malformed."""
    inputs = call.get("inputs") if isinstance(call, dict) else None
    return [t for t in inputs if isinstance(t, torch.Tensor)] if isinstance(inputs, list) else []


def is_noise(t: torch.Tensor) -> bool:
    return t.is_floating_point() and t.dim() == 2 and t.shape[1] == NZ


class StepCallFault(AssertionError):
    """train_step raised because of what it gave G or D (`failed_call_fault`): the message names that."""


def failed_call_fault(g_calls: list, d_calls: list) -> str | None:
    """What the call of G or D that raised in train_step (with the grader's stand-ins) was given, when that is
    the fault: the labels first (G(y, z), D(y, x)) or no labels; else None."""
    for role, calls in (("G", g_calls), ("D", d_calls)):
        failed = [tensor_inputs(c) for c in calls if isinstance(c, dict) and c.get("finished") is False]
        if not failed:
            continue
        inputs = failed[-1]
        if role == "G":
            call, first, second, own = "G(z, y)", "z", "y", "G(z, y_fake)"
            wanted = is_noise
        else:
            call, first, second, own = "D(x, y)", "x", "y", "D(real, labels) and D(fake, y_fake)"

            def wanted(t: torch.Tensor) -> bool:
                return t.is_floating_point() and t.dim() == 4
        if len(inputs) >= 2 and not wanted(inputs[0]) and wanted(inputs[1]):
            kind = "an integer" if not inputs[0].is_floating_point() else "a float"
            return (
                f"train_step calls {role} with its arguments in the other order, {role}({second}, {first}) (its first "
                f"argument {kind} tensor {shape_text(inputs[0].shape)}, its second {shape_text(inputs[1].shape)}): "
                f"{role} is called {call}, {'the noise' if role == 'G' else 'the images'} first and the labels second, as the "
                f"task says: call {own} (with forward(self, {first}, {second}) in your {role})"
            )
        if len(inputs) == 1 and wanted(inputs[0]):
            return (
                f"train_step calls {role} without the labels, {role}({first}) as in dcgan_step: the conditional {role} "
                f"takes them too, {call}: call {own}"
            )
    return None


D_FORMS = [{"column": column, "probabilities": probabilities} for probabilities in (False, True) for column in (False, True)]


def d_form(submission) -> dict[str, bool]:
    """How the student's D returns its scores, for the stand-in D a step is graded with: {"column": as (N, 1)
    rather than (N,), "probabilities": within [0, 1] even with its weights scaled up (a final sigmoid, charged
    by the discriminator's own check)}; logits (N,) when D does not run. A step written for the student's own D
    (targets of shape (N, 1), nn.BCELoss on a sigmoid's output) then runs with the stand-in. A step that raises
    with that form is tried with the others (`step_record`): its labels are judged whenever it runs with some D,
    and a step that fits no D of the student's form is charged by the learning check, once."""
    try:
        D = discriminator(submission)
        plain, scaled = range_outputs(submission, D, [[images(16), torch.arange(16) % NUM_CLASSES]])
    except (AssertionError, StudentError):
        return D_FORMS[0]
    if isinstance(plain, str) or isinstance(scaled, str) or not plain or not scaled:
        return D_FORMS[0]
    low, high = d_range(submission, D, [[images(16), torch.arange(16) % NUM_CLASSES]], plain, scaled)
    return {"column": tuple(plain[0].shape) == (16, 1), "probabilities": bool(low >= 0 and high <= 1)}


def forward_names(submission, role: str) -> list[str] | None:
    """The names of the first two parameters of the student's G's ("G") or D's forward (`probes_a6.forward_names`),
    for the stand-in of that role: a step that calls the student's networks by keyword with their own names,
    G(noise=z, labels=y_fake) for a forward(self, noise, labels), calls the stand-ins alike. None when the network
    cannot be built or its forward does not name two such parameters (the stand-in's own names then: z, y and x, y)."""
    try:
        model = generator(submission) if role == "G" else discriminator(submission)
        names = submission.run(probes_a6.forward_names, model)
    except (AssertionError, StudentError):
        return None
    if isinstance(names, list) and len(names) == 2 and all(isinstance(n, str) and n.isidentifier() for n in names):
        return names
    return None


def stand_ins(submission, form: dict | None = None) -> tuple:
    """The grader's stand-in G(z, y) and D(x, y) for grading the step alone, D in `form` (the student's D's, `d_form`,
    when None), their arguments named as the student's G's and D's forward name them (`forward_names`)."""
    form = d_form(submission) if form is None else form
    G = submission.run(probes_a6.stand_in_generator, NZ, NGF, names=forward_names(submission, "G"))
    D = submission.run(probes_a6.stand_in_discriminator, NDF, **form, names=forward_names(submission, "D"))
    return G, D


def stand_in_names(submission) -> dict:
    """The student's G's and D's forward's argument names, for the probes that build the stand-ins themselves."""
    return {"g_names": forward_names(submission, "G"), "d_names": forward_names(submission, "D")}


STAND_IN_ATTRIBUTE = re.compile(r"'_StandIn(Generator|Discriminator)' object has no attribute '(\w+)'")


def step_record(submission, real: torch.Tensor, labels: torch.Tensor, seed: int = 0, steps: int = 1) -> dict:
    """`steps` calls of `train_step` on (real, labels) with the grader's stand-in G(z, y) and D(x, y) (so that this
    grades the step alone): {"g": [(labels given, images made)], "g_noise": [the z of each of them], "d": [(images
    judged, labels given or None, whether the images require grad)]} of the first call, "later_g": [[(labels given,
    noise given) of each call of G] for each later call], every value checked. A step that raises is told by what the failing call was given when that
    is the fault (`failed_call_fault`), else by its error."""
    step = submission.get(STEP)
    first = d_form(submission)
    found = {}
    for form in [first, *(f for f in D_FORMS if f != first)]:  # the student's D's form first, then any other that runs
        G, D = stand_ins(submission, form)
        tried = submission.run(probes_a6.step_calls, step, G, D, real, labels, nz=NZ, num_classes=NUM_CLASSES, seed=seed,
                               steps=steps, namespace=NAMESPACE)
        tried = tried if isinstance(tried, dict) else {}
        failed = isinstance(tried.get("error"), dict)
        found = tried if not found or not failed else found  # the first form's error, when every form raises
        if not failed or StudentError.from_info(tried["error"]).not_implemented:
            break
    raw_g = found.get("g_calls") if isinstance(found.get("g_calls"), list) else []
    raw_d = found.get("d_calls") if isinstance(found.get("d_calls"), list) else []
    if isinstance(found.get("error"), dict):
        err = StudentError.from_info(found["error"])
        if err.not_implemented:
            raise err
        later = found.get("later_g_calls") if isinstance(found.get("later_g_calls"), list) else []
        failing_g = later[-1] if later and isinstance(later[-1], list) else raw_g  # G's calls of the call that raised
        fault = failed_call_fault(failing_g, raw_d)
        if fault is not None:
            raise StepCallFault(fault)
        read = STAND_IN_ATTRIBUTE.search(err.message)
        if read:
            role = "G" if read[1] == "Generator" else "D"
            raise AssertionError(
                f"{err.describe()}: train_step reads {role}.{read[2]}, which the grader's stand-in {role} (like any "
                f"G(z, y) and D(x, y) the step is given) need not have; use train_step's own arguments nz and "
                f"num_classes, and the shapes of real and labels"
            )
        raise AssertionError(
            f"{err.describe()}; train_step(G, D, opt_g, opt_d, real, labels, nz, num_classes) must make one step with any "
            f"G(z, y) and D(x, y) (the grader's stand-ins here), Adam optimizers and a real batch of {len(real)} digits"
        )
    g_calls, g_noise, d_calls, g_lengths, d_lengths = [], [], [], [], []
    label_dtypes = [(role, str(inputs[1].dtype).removeprefix("torch.")) for role, calls in (("G", raw_g), ("D", raw_d))
                    for inputs in map(tensor_inputs, calls) if len(inputs) >= 2 and is_not_int64_labels(inputs[1], inputs[0])]
    narrow_rows = [(role, tuple(inputs[1].shape), role == "D" and bool((same_rows(inputs[0].double(), real) >= 0).any()))
                   for role, calls in (("G", raw_g), ("D", raw_d)) for inputs in map(tensor_inputs, calls)
                   if len(inputs) >= 2 and is_narrow_one_hot(inputs[1], inputs[0])]
    for call in raw_g:
        inputs = tensor_inputs(call)
        out = call.get("output") if isinstance(call, dict) else None
        if len(inputs) >= 2 and isinstance(out, torch.Tensor) and out.is_floating_point() and out.shape[:1] == inputs[0].shape[:1]:
            y = as_labels(inputs[1], len(out))
            if y is not None:
                g_calls.append((y, out.double()))
                g_noise.append(inputs[0].double())
            elif inputs[1].dim() >= 1 and inputs[1].shape[0] != len(out):
                g_lengths.append((len(out), inputs[1].shape[0]))
    d_used = []
    for call in raw_d:
        inputs = tensor_inputs(call)
        if inputs and inputs[0].is_floating_point() and inputs[0].dim() == 4:
            x = inputs[0].double()
            tracked = call.get("tracked") if isinstance(call.get("tracked"), list) else []
            d_calls.append((x, as_labels(inputs[1], len(x)) if len(inputs) >= 2 else None, bool(tracked[:1] == [True])))
            given = inputs[1] if len(inputs) >= 2 and inputs[1].dim() >= 1 and inputs[1].shape[0] != len(x) else None
            d_lengths.append(None if given is None else given.shape[0])
            d_used.append(call.get("used") is True)
    later_g = []
    for calls in found.get("later_g_calls") if isinstance(found.get("later_g_calls"), list) else []:
        pairs = []
        for call in calls if isinstance(calls, list) else []:
            inputs = tensor_inputs(call)
            y = as_labels(inputs[1], len(inputs[0])) if len(inputs) >= 2 and inputs[0].dim() >= 1 else None
            if y is not None:
                pairs.append((y, inputs[0].double()))
        later_g.append(pairs)
    # g_noise: the z of each call in g; g_lengths: (images, labels) of G's calls with another number of labels than
    # images; d_lengths: per call of d, the number of labels given when it is not one per image, else None;
    # label_dtypes: (G or D, the dtype) of each call given labels as floating-point numbers or as integers other than int64;
    # narrow_rows: (G or D, the shape, whether they came with real images) of each call given one-hot rows of another
    # width than num_classes; d_rows: whether some call of D was given its labels as rows (N, K); d_used: per call of d,
    # whether a backward() reached its logits (a term of a loss, not a call for a log)
    return {"g": g_calls, "g_noise": g_noise, "d": d_calls, "g_lengths": g_lengths, "d_lengths": d_lengths, "later_g": later_g,
            "d_used": d_used,
            "label_dtypes": label_dtypes, "narrow_rows": narrow_rows,
            "d_rows": any(len(inputs) >= 2 and inputs[1].dim() == 2 and inputs[1].shape[1] > 1 for inputs in map(tensor_inputs, raw_d))}


def is_narrow_one_hot(y: torch.Tensor, first: torch.Tensor) -> bool:
    """Whether y, given to G or D beside `first` (z or the images), is one-hot rows (N, K), one 1 in each row, of
    another width K than num_classes (F.one_hot(labels) without num_classes: K follows the batch's largest label)."""
    if not (first.dim() >= 1 and y.dim() == 2 and y.shape[0] == first.shape[0] and 1 < y.shape[1] != NUM_CLASSES):
        return False
    values = y.double()
    return bool(((values == 0) | (values == 1)).all() and (values.sum(1) == 1).all())


def narrow_rows_fault(submission, real_only: bool = False) -> str | None:
    """What is wrong when train_step, on a batch of 12 real 7s, gives G or D one-hot rows narrower or wider than
    num_classes (F.one_hot(labels) without num_classes makes labels.max() + 1 columns, 8 here, so D or G built for
    num_classes columns fails on every batch without a 9); real_only: only D's rows for the real images. Else None."""
    real, labels = real_batch("sevens")
    try:
        record = step_record(submission, real, labels, seed=2)
    except (AssertionError, StudentError):
        return None
    for role, shape, with_real in record["narrow_rows"]:
        if real_only and not with_real:
            continue
        which = "the real images' labels" if with_real else "the fake batch's labels"
        return (
            f"train_step gives {role} {which} as one-hot rows whose width follows the batch: for {len(real)} real 7s they are "
            f"{shape_text(list(shape))}, not ({shape[0]}, {NUM_CLASSES}): F.one_hot(labels) without num_classes makes as many "
            f"columns as the batch's largest label plus one, so {role} gets another label size whenever a batch holds no 9; "
            f"pass num_classes, F.one_hot(labels, num_classes), or give {role} the integer labels as they are"
        )
    return None


def is_not_int64_labels(y: torch.Tensor, first: torch.Tensor) -> bool:
    """Whether y, given to G or D beside `first` (z or the images), is one label per sample, (N,) or (N, 1), held as
    floating-point numbers (torch.randint(...).float()) or as integers other than int64 (dtype=torch.int32, .int(),
    torch.IntTensor); one-hot rows are another design."""
    return (y.dtype not in (torch.int64, torch.bool) and first.dim() >= 1 and y.shape in ((first.shape[0],), (first.shape[0], 1)))


def index_dtype_error(message: str) -> bool:
    """Whether an error's message is PyTorch refusing labels of the wrong dtype as indices (F.one_hot, nn.Embedding,
    indexing a tensor such as torch.eye(num_classes)[y])."""
    return any(words in message for words in ("index tensor", "'indices'", "used as indices", "LongTensor"))


def label_dtype_fault(record: dict) -> str | None:
    """What is wrong when train_step gives G or D its labels as floats, which an nn.Embedding or F.one_hot refuses,
    or as integers other than int64, which F.one_hot refuses; else None."""
    found = record.get("label_dtypes") or []
    if not found:
        return None
    floats = [(role, dtype) for role, dtype in found if dtype.startswith(("float", "bfloat", "half", "double"))]
    found = floats or found
    roles = [role for role in ("G", "D") if any(given == role for given, _ in found)]
    calls = " and ".join("G(z, y)" if role == "G" else "D(x, y)" for role in roles)
    whose, take = ("their", "take") if len(roles) > 1 else ("its", "takes")
    if floats:
        return (f"train_step gives {' and '.join(roles)} {whose} labels as floating-point numbers ({found[0][1]}), while {calls} "
                f"{take} labels int64 (N,), as the real batch's are (F.one_hot and nn.Embedding take integers only): keep them "
                f"integers: the real batch's labels as they come, and y_fake = torch.randint(0, num_classes, (B,)) with no .float()")
    dtype = found[0][1]
    return (f"train_step gives {' and '.join(roles)} {whose} labels as {dtype}, while {calls} {take} labels int64 (N,), "
            f"as the real batch's are (F.one_hot takes int64 only): keep them int64: the real batch's labels as they come, "
            f"and y_fake = torch.randint(0, num_classes, (B,)) with its default dtype "
            f"(no {INTEGER_CASTS.get(dtype, f'dtype=torch.{dtype}')})")


INTEGER_CASTS = {  # how an integer dtype other than int64 is written, for the fix's "no ..."
    "int32": "dtype=torch.int32, .int() or torch.IntTensor", "uint8": "dtype=torch.uint8, .byte() or torch.ByteTensor",
    "int16": "dtype=torch.int16, .short() or torch.ShortTensor", "int8": "dtype=torch.int8, .char() or torch.CharTensor",
}


def label_count_text(images: int, given: int) -> str:
    """The fix for labels that are not one per image (a label vector of another batch, e.g. the notebook's global y)."""
    return (f"{given} labels for {images} images: labels come one per image, (B,) with B = real.shape[0]; the step's own "
            f"labels, `labels` for the real batch and y_fake = torch.randint(0, num_classes, (B,)) for the fake one, not a "
            f"label vector of another batch (such as a variable of the notebook)")


def label_rule_text(true: list[int], given: list[int], verb: str) -> str | None:
    """"each label k <verb> (k + 1) mod 10" when each label in `true` goes with one label in `given` (the labels
    changed by a rule, not drawn or reordered); None otherwise."""
    rule: dict[int, set[int]] = {}
    for g, t in zip(given, true):
        rule.setdefault(t, set()).add(g)
    if not rule or any(len(shown) != 1 for shown in rule.values()):
        return None
    shown = {t: next(iter(g)) for t, g in sorted(rule.items())}
    plain, modular = {shown[t] - t for t in shown}, {(shown[t] - t) % NUM_CLASSES for t in shown}
    if len(plain) == 1 and next(iter(plain)) != 0:
        shift = next(iter(plain))
        return f"each label k {verb} k {'+' if shift > 0 else '-'} {abs(shift)}"
    if len(modular) == 1 and all(0 <= g < NUM_CLASSES for g in shown.values()):
        return f"each label k {verb} (k + {next(iter(modular))}) mod {NUM_CLASSES}"
    return ", ".join(f"{t} {verb} {g}" for t, g in shown.items() if g != t)


def affine_fit(x: torch.Tensor, real: torch.Tensor) -> tuple[float, float] | None:
    """(a, b) when the images x are the real batch rescaled, x = a * real + b image for image and pixel for pixel
    (normalised again, (real - 0.5) / 0.5, or mapped to [0, 1]) with (a, b) not (1, 0); else None."""
    if x.shape != real.shape:
        return None
    r, v = real.double().flatten(), x.double().flatten()
    spread = float(r.var())
    if spread == 0:
        return None
    a = float(((r - r.mean()) * (v - v.mean())).mean()) / spread
    b = float(v.mean()) - a * float(r.mean())
    if float((v - (a * r + b)).abs().max()) > 1e-4 * max(1.0, float(v.abs().max())) or (abs(a - 1) < 1e-6 and abs(b) < 1e-6):
        return None
    return a, b


def turned_real_count(d_calls: list, real: torch.Tensor) -> int:
    """How many images D was given (in `step_record`'s d calls) are one of the real images mirrored or turned (flipped
    left-right or upside down, or rotated by right angles), and not one of them as they are (a symmetric digit)."""
    turned = torch.cat([real.flip(-1), real.flip(-2), *(real.rot90(k, (-2, -1)) for k in (1, 2, 3))])
    count = 0
    for x, _, _ in d_calls:
        if isinstance(x, torch.Tensor) and x.dim() == 4 and x.shape[1:] == real.shape[1:]:
            count += int(((same_rows(x, real) < 0) & (same_rows(x, turned) >= 0)).sum())
    return count


def real_pairs_fault(submission) -> str | None:
    """What is wrong with the labels D sees with the real images in train_step; None when each real image has its own."""
    real, labels = real_batch("mixed")
    record = step_record(submission, real, labels)
    if not record["d"]:
        return "train_step never calls D(x, y) (with images (B, 1, 28, 28)): D's step judges D(real, labels) and D(fake, y_fake)"
    given, true = [], []
    unlabelled = False
    own = torch.zeros(len(real), dtype=torch.bool)  # real images judged in a call that gives every real image its own label
    found = [same_rows(x, real) for x, _, _ in record["d"]]
    judging = [bool((rows >= 0).any()) for rows in found]
    # the calls that judge real images in a loss (a backward() reached their logits), when some do: a call made for a
    # log, under torch.no_grad() or with its logits detached, teaches D nothing, so its labels do not count (a step
    # that logs D(real, labels) and trains on D(real, y_fake) was taken for a matching-aware D); a step whose calls on
    # the real batch all go without a backward() (D's update skipped in this call by a schedule) is read by all its calls
    in_loss = [j and used for j, used in zip(judging, record["d_used"])]
    counted = in_loss if any(in_loss) else [True] * len(record["d"])
    for (x, y, _), count, rows, kept in zip(record["d"], record["d_lengths"], found, counted):
        if not kept:
            continue
        judged = torch.nonzero(rows >= 0)[:, 0]
        if y is None and count is not None and len(judged):
            return f"train_step shows D the real images with {label_count_text(len(x), count)}"
        for i in judged.tolist():
            if y is None:
                unlabelled = True
                continue
            given.append(int(y[i]))
            true.append(int(labels[rows[i]]))
        if y is not None and len(judged) and torch.equal(y[judged], labels[rows[judged]]):
            own[rows[judged]] = True
    turned = turned_real_count(record["d"], real)
    if turned:  # a digit mirrored or turned is no longer the digit its label names (a mirrored 7 is no 7)
        return (
            f"train_step shows D real digits mirrored or turned ({turned} of the images D judged are one of the {len(real)} "
            f"real images flipped or rotated): a mirrored or turned digit is not the digit its label names, so D learns "
            f"that such digits are real; pass `real` to D as it is, D(real, labels)"
        )
    if unlabelled:
        return "train_step calls D on the real images without their labels; D judges pairs: D(real, labels)"
    if not given:
        rescaled = next((fit for x, _, _ in record["d"] if (fit := affine_fit(x, real)) is not None), None)
        if rescaled is not None:
            a, b = rescaled
            return (
                f"D judges the real images rescaled (real * {a:.3g} {'+' if b >= 0 else '-'} {abs(b):.3g}), not as train_step "
                f"gets them: `real` comes already in [-1, 1], the range of G's tanh; pass it to D as it is, D(real, labels)"
            )
        return (
            f"D never judges the real batch in train_step (none of the images D got is one of the {len(real)} real images "
            f"passed as `real`): D's step needs D(real, labels)"
        )
    wrong = sum(g != t for g, t in zip(given, true))
    if not wrong or bool(own.all()):  # every real image also judged with its own label: the others are an extra
        # mismatch term (D(real, wrong labels) as fake: Reed et al. 2016's matching-aware D), not a fault; labels given
        # as one-hot rows must keep num_classes columns for a batch without a 9 too
        rows = record["d_rows"] and narrow_rows_fault(submission, real_only=True)
        return rows or None
    drawn = {tuple(y.tolist()) for y, _ in record["g"]}
    if tuple(given[: len(real)]) in drawn or tuple(given) in drawn:
        return (
            "D judges the real images with the labels drawn for the fake batch, not with their own: D(real, labels) "
            "for the real images, D(fake, y_fake) for G's"
        )
    how = label_rule_text(true, given, "comes as")
    if how is not None:  # every real k comes with one label: relabelled, not reordered
        return (
            f"D judges the real images with their labels changed, not reordered ({wrong} of {len(given)} images with a "
            f"label that is not theirs: {how}): pass each image's own label as it is, D(real, labels), with no "
            f"arithmetic on the labels"
        )
    if sorted(given) == sorted(true):
        return (
            f"D judges the real images with their batch's labels in another order ({wrong} of {len(given)} images with a "
            f"label that is not theirs): image i must come with labels[i]; shuffle or index images and labels together, "
            f"or not at all"
        )
    return f"D judges the real images with labels that are not theirs ({wrong} of {len(given)}): D(real, labels), image i with labels[i]"


def outside_labels_fault(g_calls: list, batch: int) -> str | None:
    """What is wrong when G was asked for labels outside 0..NUM_CLASSES - 1 in a recorded step; else None."""
    outside = sorted({int(k) for y, _ in g_calls for k in y.tolist() if not 0 <= k < NUM_CLASSES})
    if not outside:
        return None
    return (
        f"in a step with {batch} real images G is asked for label{'s' if len(outside) > 1 else ''} "
        f"{', '.join(map(str, outside[:5]))}, while the labels run 0..{NUM_CLASSES - 1}: torch.randint(low, high, size) "
        f"draws from low to high - 1, so torch.randint(0, num_classes, (B,)) draws exactly the labels 0..num_classes-1"
    )


def noise_shape_fault(g_noise: list) -> str | None:
    """What is wrong when train_step gives G noise that is not (B, nz) (DCGAN's torch.randn(B, nz, 1, 1)); else None."""
    shapes = [tuple(z.shape) for z in g_noise if z.dim() != 2 or z.shape[1] != NZ]
    if not shapes:
        return None
    return (f"train_step gives G noise z of shape {shape_text(shapes[0])}, while G(z, y) takes z (B, nz), as the task "
            f"says: draw z = torch.randn(B, nz) (not torch.randn(B, nz, 1, 1): the given generator views z as (B, nz, 1, 1) "
            f"itself)")


def noise_distribution_fault(g_noise: list) -> str | None:
    """What is wrong when train_step gives G noise that is not standard normal: every value in [0, 1) (torch.rand
    for torch.randn), or all of one sign; else None. G is sampled with N(0, 1) noise (the task's z, and the
    grader's): a G trained on other noise draws nothing sensible from it."""
    values = torch.cat([z.detach().flatten().double() for z in g_noise if z.numel()]) if g_noise else torch.zeros(0)
    if values.numel() < 1000:  # too few to tell
        return None
    if bool((values >= 0).all()) and bool((values < 1).all()):
        return ("train_step draws G's noise uniform in [0, 1) (torch.rand): G is sampled with standard normal noise, so "
                "it never learns to draw from it; draw z = torch.randn(B, nz)")
    if bool((values >= 0).all()) or bool((values <= 0).all()):
        return ("train_step gives G noise of one sign only (all values of z >= 0, or all <= 0): G is sampled with "
                "standard normal noise, so it never learns to draw from half of it; draw z = torch.randn(B, nz)")
    return None


def draw_fault(g_calls: list, batch: int) -> str | None:
    """What is wrong with the labels G was asked for in a recorded step on `batch` real images of every class
    (not the real batch's own labels): labels outside 0..9, one label for a whole batch, or labels never drawn."""
    outside = outside_labels_fault(g_calls, batch)
    if outside is not None:
        return outside
    sizes = [len(y) for y, _ in g_calls]
    if max(sizes) > 1 and all(bool((y == y[0]).all()) for y, _ in g_calls):
        chosen = sorted({int(y[0]) for y, _ in g_calls})
        return (
            f"G is asked for one label for the whole fake batch (every one of its {max(sizes)} images a "
            f"{' or '.join(map(str, chosen))}): draw one label per image, y_fake = torch.randint(0, num_classes, (B,)) "
            f"with size (B,), so that every batch holds every digit"
        )
    drawn = torch.cat([y for y, _ in g_calls])
    never = sorted(set(range(NUM_CLASSES)) - set(drawn.tolist()))
    if never and max(sizes) < batch:  # a fake batch of a size fixed elsewhere (a global BATCH): too few to hold every label
        return (
            f"in a step with {batch} real images G is asked for {max(sizes)} images only (never for label"
            f"{'s' if len(never) > 1 else ''} {', '.join(map(str, never))}): the fake batch is as large as the real one "
            f"train_step is given, B = real.shape[0], not a size fixed outside it; draw z = torch.randn(B, nz) and "
            f"y_fake = torch.randint(0, num_classes, (B,))"
        )
    if never:
        return (
            f"in a step with {batch} real images G is never asked for label{'s' if len(never) > 1 else ''} "
            f"{', '.join(map(str, never))}: torch.randint(low, high, size) draws from low to high - 1, so "
            f"torch.randint(0, num_classes, (B,)) draws every label 0..{NUM_CLASSES - 1}"
        )
    return None


def repeated_draw_fault(record: dict, batch: int) -> str | None:
    """What is wrong when two calls of train_step on the same real batch (`step_record` with steps=2) gave G the
    very same fake labels (a label vector drawn once, outside the step, or a slice of a fixed one, or a seed set
    inside the step); else None."""
    later = record["later_g"][0] if record["later_g"] else []
    for (y, _), z, (y2, z2) in zip(record["g"], record["g_noise"], later):
        if len(y) >= 2 and z.numel() and z.shape == z2.shape and torch.equal(z, z2) and not (y.shape == y2.shape and torch.equal(y, y2)):
            return (
                f"train_step gives G the very same noise z at every call (two calls on the same {batch} real images drew new "
                f"labels but the same z): noise drawn once (a global batch of z, or a slice of fixed noise) is not new noise; "
                f"draw z = torch.randn(B, nz) inside train_step at every step, as the task asks"
            )
        if len(y) < 2 or y.shape != y2.shape or not torch.equal(y, y2):
            continue
        shown = ", ".join(map(str, y.tolist()[:12])) + (", ..." if len(y) > 12 else "")
        if z.shape == z2.shape and torch.equal(z, z2):
            return (
                f"train_step gives G the same noise z and the same labels at every call (two calls on the same {batch} real "
                f"images drew the very same z and the labels {shown} again): a seed set inside train_step (torch.manual_seed, "
                f"or a torch.Generator seeded there) repeats every draw; seed once before training, and let each step draw "
                f"new z and y_fake = torch.randint(0, num_classes, (B,))"
            )
        return (
            f"G is asked for the same labels at every step (two calls of train_step on the same {batch} real images both "
            f"asked G for the labels {shown}): labels that do not change from step to step (drawn once outside "
            f"train_step, a fixed pattern such as torch.arange(B) % num_classes or a slice of the notebook's sweep, or "
            f"drawn from a generator seeded anew at every call) are not new labels; draw them inside train_step at every "
            f"step, y_fake = torch.randint(0, num_classes, (B,)), as the task asks"
        )
    return None


def fake_label_faults(submission) -> list[str] | str:
    """What is wrong with the fake batch's labels in train_step: [] when G's labels are drawn anew at every step
    over every class, one per image, and D judges each fake image with its own; a string when G's or D's fakes
    are missing altogether."""
    copied = drawn_wrong = mismatched = None
    judged_any = False
    for kind in ("mixed", "sevens"):
        real, labels = real_batch(kind)
        record = step_record(submission, real, labels, seed=1 if kind == "mixed" else 2, steps=1 if kind == "mixed" else 2)
        if not record["g"] and record["g_lengths"]:
            return f"train_step calls G(z, y) with {label_count_text(*record['g_lengths'][0])}"
        if not record["g"]:
            return "train_step never calls G(z, y): the fake batch is G(z, y_fake) for new noise z (B, nz) and labels y_fake (B,)"
        drawn = torch.cat([y for y, _ in record["g"]])
        ruled = [label_rule_text(labels.tolist(), y.tolist(), "gives") for y, _ in record["g"]  # one label for all: draw_fault
                 if len(y) == len(labels) and len(set(y.tolist())) > 1]
        if kind == "mixed" and any(len(y) == len(labels) and torch.equal(y, labels) for y, _ in record["g"]):
            copied = "G is asked for the real batch's labels (y_fake = labels)"
        elif kind == "mixed" and any(how is not None for how in ruled):
            how = next(how for how in ruled if how is not None)
            copied = f"G is asked for labels computed from the real batch's, not drawn ({how})"
        elif kind == "mixed":
            drawn_wrong = draw_fault(record["g"], len(real))
        elif copied is None and drawn_wrong is None and bool((drawn == 7).all()):
            copied = "G is asked only for labels of the real batch (with 12 real 7s in the batch, G is asked for 7s only)"
        elif copied is None and drawn_wrong is None:
            drawn_wrong = repeated_draw_fault(record, len(real))
        made = torch.cat([out for _, out in record["g"]])
        for (x, y, _), count in zip(record["d"], record["d_lengths"]):
            rows = same_rows(x, made)
            judged = torch.nonzero(rows >= 0)[:, 0]
            if len(judged) == 0:
                continue
            judged_any = True
            if y is None and count is not None:
                mismatched = mismatched or f"D judges G's images with {label_count_text(len(x), count)}"
            elif y is None:
                mismatched = mismatched or "D judges G's images without their labels"
            elif not torch.equal(y[judged], drawn[rows[judged]]):
                real_labels = len(y) == len(labels) and torch.equal(y, labels)
                mismatched = mismatched or ("D judges G's images with the real batch's labels" if real_labels
                                            else "D judges G's images with other labels than G drew them for")
    if not judged_any:
        return "D never judges G's images in train_step: D(fake.detach(), y_fake) in D's step and D(fake, y_fake) in G's"
    faults = []
    if copied is not None:
        faults.append(
            f"{copied}: draw the fake batch's labels at random over all classes, y_fake = torch.randint(0, num_classes, "
            f"(B,)), so that G learns every digit it can be asked for"
        )
    elif drawn_wrong is not None:
        faults.append(drawn_wrong)
    if mismatched is not None:
        faults.append(f"{mismatched}: D must judge each fake image with the label G drew it for, D(fake, y_fake), in D's step and in G's")
    return faults


def recorded_step(submission) -> dict | None:
    """step_record of one step on the mixed real batch (seed 1), with the real images; None when the step raises
    with the stand-ins (the step checks word that)."""
    real, labels = real_batch("mixed")
    try:
        record = step_record(submission, real, labels, seed=1)
    except (AssertionError, StudentError):
        return None
    return {**record, "real": real}


def step_call_fault(submission) -> str | None:
    """Why train_step raises with the stand-ins when it is what it gives G or D (`failed_call_fault`); else None."""
    real, labels = real_batch("mixed")
    try:
        step_record(submission, real, labels, seed=1)
    except StepCallFault as fault:
        return str(fault)
    except (AssertionError, StudentError):
        return None
    return None


def detached_fake_fault(submission) -> str | None:
    """Why G's parameters never change when train_step judges G's images only detached from G; else None."""
    record = recorded_step(submission)
    if record is None or not record["g"]:
        return None
    made = torch.cat([out for _, out in record["g"]])
    judged = [tracked for x, _, tracked in record["d"] if bool((same_rows(x, made) >= 0).any())]
    if not judged or any(judged):
        return None
    return (
        "D judges G's images only detached from G (fake.detach(), or G run under torch.no_grad()), also in G's step, "
        "so loss_G has no gradient for G's parameters and opt_g.step() leaves them as they are: detach the fake batch "
        "in D's step only, and compute loss_G on D(fake, y_fake) with fake as G made it"
    )


def mixed_batch_fault(submission, D) -> str | None:
    """The hint for a step that judges real and fake images in one call of a D with BatchNorm; else None."""
    record = recorded_step(submission)
    if record is None or not record["g"]:
        return None
    made = torch.cat([out for _, out in record["g"]])
    if not any(bool((same_rows(x, record["real"]) >= 0).any()) and bool((same_rows(x, made) >= 0).any()) for x, _, _ in record["d"]):
        return None
    norms = [c for c in traced(submission, D, [images(4), torch.arange(4)])["calls"] if c["type"].startswith("BatchNorm")]
    if not norms:
        return None
    return (
        "train_step judges the real and the fake images in one call of D (as D(torch.cat([real, fake]), ...)): D's "
        "BatchNorm then normalises them with the statistics of the mixed batch, which is known to derail DCGAN training "
        "(the model solution's G and D did not learn at all with such a step); call D on the real batch and on the fake "
        "batch separately, as dcgan_step does"
    )


def initial_logits_fault(submission, D) -> str | None:
    """The hint for a D whose logits start far from 0 (at init, training mode, on real digits); else None."""
    real, labels = real_batch("mixed")
    found = submission.run(probes_a6.initial_logits, D, real, labels)
    found = found if isinstance(found, dict) else {}
    logits = found.get("logits") if isinstance(found.get("logits"), torch.Tensor) else None
    if logits is None or not logits.numel() or not bool(torch.isfinite(logits).all()):
        return None
    size = float(logits.double().abs().mean())
    if size <= LARGE_LOGITS:
        return None
    told = (
        f"D's logits start far from 0: as built, in training mode, it gives the real digits logits of {size:.0f} on "
        f"average (a DCGAN D starts below 1), so the losses start saturated and the GAN learns little from them"
    )
    plain = found.get("without_embeddings") if isinstance(found.get("without_embeddings"), torch.Tensor) else None
    if plain is None or plain.shape != logits.shape or not float(plain.double().abs().mean()) <= LARGE_LOGITS:
        return f"{told}; initialise D so that it starts near 0: weights_init on every layer, and any extra term small or zero"
    for item in found.get("embeddings") if isinstance(found.get("embeddings"), list) else []:  # the embeddings make them large
        if isinstance(item, list) and len(item) == 4 and all(finite(v) for v in item[1:]) and float(item[3]) > 0.5:
            name, dim = text(item[0], 60), int(item[2])
            return (
                f"{told}: `{name}` keeps nn.Embedding's default N(0, 1) init (weight std {float(item[3]):.2f}; with D's "
                f"embeddings at zero the logits are small), so in a term like the projection <embed(y), phi(x)> each "
                f"label's row, of length about sqrt({dim}) = {dim ** 0.5:.0f}, swamps the rest of D; start it at zero after "
                f"weights_init, nn.init.zeros_(self.{name}.weight), or small, "
                f"nn.init.normal_(self.{name}.weight, 0.0, 0.02)"
            )
    return f"{told}; its embeddings make them so (at zero the logits are small): initialise them at zero or small"


def joined_linears(submission, D) -> list[tuple[dict, int, int]]:
    """Where D's Linear layers may join a label to image features: for each Linear taking F + k inputs and each layer
    before it (not an Embedding or a Linear) whose output has F numbers, (the Linear's call, F, k); [] when D raises on
    4 images and labels. The image features may have been made anywhere among the layers before the Linear."""
    run = traced(submission, D, [images(4), torch.arange(4)])
    if run["error"] is not None:
        return []
    calls, joins = run["calls"], []
    for at, call in enumerate(calls):
        if call["type"] != "Linear" or not call["in"] or len(call["in"]) != 2:
            continue
        for before in calls[:at]:
            if before["out"] and len(before["out"]) >= 2 and before["type"] not in ("Embedding", "Linear"):
                features = math.prod(before["out"][1:])
                joins.append((call, features, call["in"][1] - features))
    return joins


FAINT = 16  # a label vector of at most this many numbers ...
FAINT_RATIO = 32  # ... beside at least this many times as many image features is too faint for D (design 2)


def faint_label_fault(submission, D) -> str | None:
    """The hint for a D that joins the label to the flattened image features as a short vector (design 2 with
    a one-hot, or an embedding of 10): a Linear layer taking F + k inputs right after features of F numbers,
    k <= FAINT and F >= FAINT_RATIO * k, wherever the label's path and the features were made before it; else
    None. Measured (benchmarks/a6_agreement.py's runs, the model solution's G): such a D stayed at chance (10-11%)
    over 500 steps, where an nn.Embedding(num_classes, 50) joined there passed, late (50% at step 300-350)."""
    for call, features, label in joined_linears(submission, D):
        if 0 < label <= FAINT and features >= FAINT_RATIO * label:
            return (
                f"the label reaches D only as {label} numbers beside {features} image features, joined in {layer(call)}: "
                f"too faint a signal for D to learn the labels within the grading run's steps (D built so stayed at "
                f"chance); give the label more weight: an nn.Embedding(num_classes, 50) joined there, the label as "
                f"image channels (design 1), or the projection discriminator (design 3)"
            )
    return None


SUMMARY = 2  # image features of at most this many numbers beside the label: D has reduced the image to a score


def summary_label_fault(submission, D) -> str | None:
    """The hint for a D whose label joins the image only after its convs have reduced it to one or two numbers (the
    label joined to the given Discriminator's output, its final logit, before an MLP head): a Linear layer taking
    F + k inputs right after image features of F <= SUMMARY numbers, k > F. Measured (this check, 2 seeds): such a D
    stayed at chance (11% and 11%): it can rank images by that number, not tell whether one matches its label. None
    otherwise."""
    for call, features, label in joined_linears(submission, D):
        if 0 < features <= SUMMARY < label:
            return (
                f"the label reaches D only beside {features} number{'s' if features > 1 else ''} of the image, joined "
                f"in {layer(call)}: D's convs reduce the image to {'a single score' if features == 1 else 'a score'} "
                f"before the label joins (as when the label joins the given Discriminator's output, its final logit), "
                f"so D can rank images by it but not tell whether an image matches its label (D built so stayed at "
                f"chance); join the label earlier: as image channels (design 1), to the flattened features of the "
                f"convs before D's last layer, with an MLP head (design 2), or as a projection on them (design 3)"
            )
    return None


def head_batchnorm_fault(submission, D) -> str | None:
    """The hint for a D with BatchNorm1d in its MLP head (PyTorch-GAN's habit): D sees all-real and all-fake
    batches, each normalised by its own statistics right before the logit. Measured with the solution's G and
    step, design 2 (an embedding of 50 joined to the features) agreed 51%, 11% and 10% with it in the head, 54%,
    28% and 27% without; PyTorch-GAN's head (with an embedding of 10) stayed at chance. None without one."""
    run = traced(submission, D, [images(4), torch.arange(4)])
    found = [call for call in run["calls"] if call["type"] == "BatchNorm1d"]
    if run["error"] is not None or not found:
        return None
    return (
        f"D normalises its head's features with {layer(found[0])}: D's step shows it an all-real and an all-fake batch, "
        f"each normalised by its own statistics right before the logit, which hides from D what tells them apart (D "
        f"built so learned the labels in fewer grading runs than without it); keep BatchNorm2d in the convolutions and "
        f"none in the MLP head"
    )


def no_convolution_fault(submission, G, D) -> str | None:
    """The hint for a G or D that runs no convolutional layer (an MLP, as PyTorch-GAN's cgan); else None (also when
    the trace raises: the other checks word that)."""
    mlps = []
    for name, model, first in (("G", G, noise), ("D", D, images)):
        run = traced(submission, model, [first(4), torch.arange(4)])
        if run["error"] is None and run["calls"] and not any("Conv" in c["type"] for c in run["calls"]):
            mlps.append(name)
    if not mlps:
        return None
    which, has = (" and ".join(mlps), "have") if len(mlps) > 1 else (mlps[0], "has")
    return (
        f"{which} {has} no convolutional layer (an MLP on the flattened image, as in PyTorch-GAN's cgan), while the task "
        f"makes the given DCGAN conditional: at the grader's widths such MLPs learn the labels far more slowly than the "
        f"DCGAN's convolutions within the grading run's steps; build G and D from the given "
        f"Generator and Discriminator (their .main), with the label joined to z and to the image"
    )


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


@check(points=2, visible=True)
def test_generator_output_shape(submission):
    """G(z, y) is (N, 1, 28, 28) for any batch, any labels 0-9 and any nz; its widths follow ngf."""
    G = generator(submission)
    fault = generator_shape_fault(submission, G)
    if fault is not None:
        raise AssertionError(f"{fault}; expected (N, 1, 28, 28)")
    y = torch.tensor([1, 5, 9, 0])
    try:
        G32 = generator(submission, nz=32)
    except AssertionError as err:
        raise Partial(1, f"with nz=32: {err}; use the `nz` argument") from None
    fault = generator_fault(traced(submission, G32, [noise(4, 32), y]), 4)
    if fault is not None:
        raise Partial(1, f"with nz=32, G(z, y) {fault}; expected (N, 1, 28, 28) for every nz: use the `nz` argument, do not fix it at {NZ}")
    fault = width_fault(submission, "G")
    if fault is not None:
        raise width_partial(fault, "ngf", NGF)


@check(points=1, visible=True)
def test_generator_output_range(submission):
    """G's output lies in [-1, 1] (a final tanh), even with large weights."""
    G = generator(submission)
    case = [[noise(16), torch.arange(16) % NUM_CLASSES]]
    plain, scaled = range_outputs(submission, G, case)
    if isinstance(plain, str) or isinstance(scaled, str):
        fault = generator_shape_fault(submission, G)
        raise AssertionError(fault or f"G(z, y) {plain if isinstance(plain, str) else scaled}")
    values = torch.cat([plain[0].flatten(), scaled[0].flatten()])
    if not values.numel() or not torch.isfinite(values).all():
        raise AssertionError("G's output has NaN or infinite values once its weights are scaled up; expected [-1, 1]: end G with nn.Tanh()")
    low, high = float(values.min()), float(values.max())
    if low < -1 - 1e-5 or high > 1 + 1e-5:
        ran = [c for c in traced(submission, G, case[0])["calls"] if c["out"] is not None]
        fix = CHANGED_AFTER_TANH if ran and ran[-1]["type"] == "Tanh" else "end G with nn.Tanh()"
        raise AssertionError(f"G's output reaches [{low:.3g}, {high:.3g}] once its weights are scaled up; expected [-1, 1]: {fix}")
    if low > -0.5:
        raise AssertionError(
            f"G's output stays in [{low:.3g}, {high:.3g}], never negative even with large weights; expected [-1, 1] (the "
            f"digits are scaled to [-1, 1]): {END_WITH_TANH}"
        )
    if (low > -REACH or high < REACH) and isinstance(pushed := outputs_of(submission, G, [[noise(16) * Z_SCALE, case[0][1]]], scale=25.0), list):
        low, high = min(low, float(pushed[0].min())), max(high, float(pushed[0].max()))  # spectral norm: a larger z still grows it
    if fault := short_of_one(low, high):
        raise AssertionError(f"G's output {fault}")


@check(points=2, visible=True)
def test_generator_uses_labels_and_noise(submission):
    """G's images change with y and with z, each image with its own label and noise only."""
    found = generator_label_fault(submission, generator(submission))
    if found is None:
        return
    lost, message = found
    if lost >= 2:
        raise AssertionError(message)
    raise Partial(2 - lost, message)


@check(points=2, visible=True)
def test_discriminator_output(submission):
    """D(x, y) returns one logit per image for any batch and any labels 0-9; its widths follow ndf."""
    D = discriminator(submission)
    fault = discriminator_shape_fault(submission, D)
    if fault is not None:
        raise AssertionError(f"{fault}; expected one logit per image, (N,) or (N, 1)")
    case = [[images(16), torch.arange(16) % NUM_CLASSES]]
    plain, scaled = range_outputs(submission, D, case)
    if isinstance(plain, str) or isinstance(scaled, str):
        raise AssertionError(f"D(x, y) {plain if isinstance(plain, str) else scaled}")
    low, high = d_range(submission, D, case, plain, scaled)
    if low >= 0 and high <= 1:
        raise Partial(1, (
            f"D's outputs stay in [{low:.3g}, {high:.3g}] even with its weights scaled up 25 times: it returns "
            f"probabilities (a final sigmoid); return logits, without nn.Sigmoid(): LOSS (reference.losses) takes logits"
        ))
    last = submission.run(probes.final_operation, D, *case[0]) if (low >= -1 or high <= 0) else None  # one-sided or squashed
    if low >= -1 and high <= 1 and last in SQUASHING:
        raise Partial(1, (
            f"D's outputs stay in [{low:.3g}, {high:.3g}] even with its weights scaled up 25 times: its last layer squashes "
            f"them; return logits, the last layer's output with no activation after it: LOSS (reference.losses) takes logits"
        ))
    if fault := one_sided_logit(last, low, high, what="D"):
        raise Partial(1, fault)
    fault = width_fault(submission, "D")
    if fault is not None:
        raise width_partial(fault, "ndf", NDF)


@check(points=2, visible=True)
def test_discriminator_uses_labels(submission):
    """D's logits change with the labels it is given, differently for different images."""
    fault = discriminator_label_fault(submission, discriminator(submission))
    if fault is not None and fault.startswith((MIXED_D, OTHER_LABELS_D, MERGED_D)):  # it uses the labels, but mixes or merges them
        raise Partial(1, fault)
    if fault is not None:
        raise AssertionError(fault)


@check(points=2, visible=True)
def test_step_shows_real_images_with_their_labels(submission):
    """train_step shows D each real image with its own label."""
    fault = real_pairs_fault(submission)
    if fault is not None:
        raise AssertionError(fault)


@check(points=2)
def test_step_draws_labels_for_the_fake_batch(submission):
    """train_step draws new labels for the fake batch, and D judges each fake image with its own."""
    faults = fake_label_faults(submission)
    if isinstance(faults, str):
        raise AssertionError(faults)
    if len(faults) == 1:
        raise Partial(1, faults[0])
    if faults:
        raise AssertionError("; ".join(faults))


# ---------------------------------------------------------------------------------------------
# Learning the labels
# ---------------------------------------------------------------------------------------------

LEARN_STEPS, LEARN_EVERY = 500, 50  # seeded steps of each run (batch 32), and the checkpoint spacing
LEARN_SEEDS = (0, 1, 2)  # runs go on until most of these agree
PER_CLASS = 36  # samples per label at each checkpoint: 360, as many as the held-out digits
AGREE = 0.5  # a run learned the labels when at least this share of G(z, y) is read as y (chance: 0.1)
AGREE_SLOW = 0.25  # some run at least this high: it learns the labels, slowly
# LEARN_STEPS was 300 until a sound SNGAN-style design (conditional BatchNorm in G, a projection D with its embedding
# at N(0, 0.02), G's step first) learned the labels only from step 300-400 (18% and 16% at 300, 66% and 76% at 400):
# at 500 it passes; wrong designs stay where they were (G ignoring y is at chance at any length), and those that
# learn digits but not labels now reach the FID target (1 of 5 points, as the rubric says, instead of 0).
AGREE_CALIBRATION = {  # class agreement of this check's runs, seeds 0, 1, ... (GAN_COURSE_THREADS=1)
    # at 500 steps (python benchmarks/a6_agreement.py, 2026-12-04; a run that passes stops there, so a pass shows
    # its agreement at that checkpoint): the tests' correct and wrong variants, and design 2 of the notebook
    "500 steps: model solution": (0.72, 0.71),
    "500 steps: the tests' five other correct variants": (0.53, 0.80),  # lowest and highest of their ten runs
    "500 steps: conditional-BatchNorm G, projection D at N(0, 0.02), G's step first": (0.66, 0.76),
    "500 steps: model solution's G, nn.Embedding(num_classes, 50) joined to D's features before an MLP head": (0.54, 0.56),
    "500 steps: the same D with the one-hot (10 numbers beside 1,024 features)": (0.11, 0.11),
    "500 steps: G ignores y": (0.10, 0.10),
    "500 steps: the label given to G but not to D, real labels shuffled": (0.10, 0.11),
    "500 steps: PyTorch-GAN's cgan MLPs (slow: 3 of 5)": (0.30, 0.36),
    "500 steps: conditional-BatchNorm G, projection D with the embedding at N(0, 1), G's step first (slow)": (0.33, 0.41),
    # at 300 steps (until 2026-12-04)
    # sound designs: one-hot joined to z, one-hot maps as D's extra channels (the model solution)
    "model solution": (0.86, 0.83, 0.86, 0.91, 0.88, 0.91),
    "nn.Embedding joined to z, label embedding joined to D's features before an MLP head": (0.96, 0.80, 1.00, 0.90, 0.96, 0.90),
    "z times a label embedding, projection discriminator": (0.77, 0.77, 0.71, 0.86, 0.77, 0.76),
    "model solution's G, D with one learned 28x28 label map as a second channel": (0.94, 0.88),
    # the correct variants of tests/test_grading_a6_conditional_gan.py, with their own steps
    "embedding_g_features_mlp_d (BCE on logits)": (0.88, 0.83, 0.91, 0.96),
    "product_g_projection_d (zero-initialised projection, a second fake batch for G's step)": (0.83, 0.76, 0.81, 0.82),
    # faults (each also loses the points of its own check, except the scalar label)
    "G ignores y": (0.10, 0.10, 0.10, 0.10),
    "the label given to G but not to D": (0.10, 0.10, 0.10, 0.11),
    "real labels shuffled against the images in D's batch": (0.11, 0.11, 0.10, 0.12),
    "label embedding joined to D's features before one linear layer": (0.10, 0.13, 0.10, 0.13),
    "fake images judged with the real batch's labels": (0.11, 0.11, 0.12, 0.10),
    "real images judged with the fake batch's labels": (0.11, 0.10, 0.10, 0.10),
    "fake labels always 0": (0.10, 0.10, 0.11, 0.10),
    "the label as one number y / 9 in G and D": (0.13, 0.13),
    "D ends in a sigmoid (learns, more slowly)": (0.40, 0.74, 0.76, 0.58),
    "D's label plane an nn.Embedding made anew in forward": (0.11, 0.11),
    "real and fake judged in one call of D (model solution's G and D)": (0.12, 0.11),
    "PyTorch-GAN's cgan MLPs (nn.Embedding(num_classes, num_classes), widths from ngf and ndf), the task's step": (0.16, 0.15),
    "the same MLPs with PyTorch-GAN's step (MSE loss, G's step first)": (0.12, 0.14),
    "conditional-BatchNorm G, SNGAN's projection D (spectral norm, no BatchNorm, sum pooling)": (0.12, 0.12),
    "model solution's G, SNGAN's projection D": (0.32, 0.15),
    # a conditional-BatchNorm G with a projection D (BCE on logits): its embedding at nn.Embedding's default
    # N(0, 1) init starts D's logits at about 20 (sound Ds: 0.1-0.5) and loss_G at 30-50; at zero it learns
    "conditional-BatchNorm G, projection D with the embedding at N(0, 1)": (0.11, 0.10),
    "conditional-BatchNorm G, projection D with the embedding at zero": (0.77, 0.63),
    # a red team's (this check's runs, seeds 0 and 1, 500 steps): the first now costs D's label check both points (the
    # label only rescales one score of the image), the second is named by the hint (`summary_label_fault`)
    "model solution's G and step, D's final logit times a learned number per class": (0.11, 0.10),
    "model solution's G and step, the one-hot joined to D's final logit before an MLP head": (0.11, 0.11),
    # and two that pass this check (5 of 5) while breaking the G or D check's rule, which now takes a point: a
    # projection summed over the batch (.sum() without dim=1), and G's one-hot of y.clamp(max=8) with 9 entries
}
# Twins (learning.twin_share of the samples at a run's last checkpoint; python benchmarks/a6_agreement.py, 2026-12-05,
# seeds 0 and 1): the model solution and the tests' six other correct variants 0% in all 14 runs; a G that ignores z,
# one whose z is scaled to a thousandth, and one that reads only z's sign 100% in all 6, though they read as y in
# 100% of their samples with a classifier-FID of 40-56, the model solution's 36-44: ten drawings pass the FID target.
# The narrowest label's spread (the same runs, the check's "narrow"): those seven 0.22-1.31 where they pass; 17 more
# sound designs of a red team (z beside a 100-d embedding, hinge, LSGAN, dropout, an ACGAN head...) 0.09-1.40, the
# least varied (z through Linear(nz, 100) or (nz, 32) beside a label embedding) passing with 0.09-0.10; z scaled to a
# hundredth 0.06 at step 500, z ignored for half the labels 0.00 (with 50% twins, which the twin rule lets pass), z
# through Linear(nz, 16) then ReLU beside a 100-d embedding 0.01-0.02 (and 100% twins).
SLOW_POINTS, DIGITS_POINTS = 3.0, 1.0  # of the 5: learns the labels slowly or not in every run; draws digits, not the ones asked for
LABEL_SPREAD = 0.08  # no label's samples may spread less than this share of real digits' (in the classifier's features)
COLLAPSED_POINTS = 2.0  # of the 5: draws the digit asked for, but the same few images whatever z (`varied`)
STEP_FAULT_POINTS = 4.0  # of the 5: learns, but an optimizer steps on gradients left from before (`stale_gradient_fault`)
# or on the other player's loss (`crossed_gradient_fault`), or the losses are inf or nan once D is confident (`unstable_loss_fault`)


def prepare() -> None:
    """Before a class is graded in parallel: the grader's digits classifier, trained once."""
    from reference.grading import learning

    learning.reference_and_known("digits")


def sample_inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(z (n, nz), y (n,)) G draws its samples from in the run with `seed`: the same PER_CLASS z
    (drawn from seed + 1) for every label 0..9, label-major, so that a G that ignores y scores exactly 10%."""
    z = noise(PER_CLASS, seed=seed + 1).repeat(NUM_CLASSES, 1)
    return z, torch.arange(NUM_CLASSES).repeat_interleave(PER_CLASS)


def problem_text(problem: dict, cause: str | None = None) -> str:
    """The sentence for a training probe's problem {"code", **facts}; `cause`: why G is never updated, when known."""
    from reference.grading import learning

    code = problem.get("code")
    step = problem.get("step") if isinstance(problem.get("step"), int) and not isinstance(problem.get("step"), bool) else None
    if code in ("generator_unchanged", "discriminator_unchanged"):
        role, opt, loss = ("G", "opt_g", "loss_G") if code.startswith("generator") else ("D", "opt_d", "loss_D")
        told = f"after {step} calls of train_step, {role}'s parameters are still the initial ones"
        if cause is not None and role == "G":
            return f"{told}: {cause}"
        return f"{told}: train_step never updates {role}; call {opt}.zero_grad(), {loss}.backward() and {opt}.step()"
    return learning.problem_text(problem, (1, 28, 28))


def learning_run(submission, seed: int) -> dict:
    """One seeded run, scored here checkpoint by checkpoint: {"seed", "fids": [(step, FID)], "agreement":
    [(step, share)], "twins": [(step, share)], "narrow": [(step, share)], "copies", "seconds", "best_fid",
    "best_agreement", "floor"}.
    twins: `learning.twin_share` of each checkpoint's samples, grouped by label (a G that draws one image per label,
    or a few its z picks between, scores 1). narrow: the smallest, over the labels, of how much the grader's
    classifier sees G's samples of a label differ, as a share of how much real digits of that label do
    (`learning.group_spread`; 0 for a label drawn as one image, however the others vary). The run stops at the first
    checkpoint where it has passed (`run_passes`: more steps could not undo that)."""
    from reference.grading import learning
    from reference.grading.learning import TARGET
    from reference.metrics.fid import fid

    ref, known = learning.reference_and_known("digits")
    z, y = sample_inputs(seed)
    G, D = generator(submission, seed=seed), discriminator(submission, seed=seed)
    broken = AssertionError("the grading run could not train the GAN: the training run in the submission's worker did not report its samples")

    def answer(result: object, step: int) -> torch.Tensor:
        result = result if isinstance(result, dict) else {}
        if isinstance(result.get("problem"), dict):
            problem = result["problem"]
            cause = detached_fake_fault(submission) if problem.get("code") == "generator_unchanged" else None
            raise AssertionError(f"the grading run could not train the GAN: {problem_text(problem, cause)}")
        samples = result.get("samples")
        if not (isinstance(samples, torch.Tensor) and samples.dtype == torch.uint8 and tuple(samples.shape) == (len(y), 1, 28, 28)):
            raise broken
        if step and result.get("step") != step:
            raise broken
        return samples

    begun = submission.run(probes_a6.start_training, submission.get(STEP), G, D, ref.train, digits().labels, z, y, nz=NZ,
                           num_classes=NUM_CLASSES, steps=LEARN_STEPS, seed=seed)
    fids, reads, twins, narrow, samples, seconds = [], [], [], [], [], 0.0
    for step in [0, *learning.checkpoint_steps(LEARN_STEPS, LEARN_EVERY)]:
        part = begun if step == 0 else submission.run(probes_a6.continue_training, begun.get("run"), step)
        images_then = answer(part, step)
        seconds += float(part["seconds"]) if step and finite(part.get("seconds")) else 0.0
        features, logits = ref.extractor.features_and_logits(images_then)  # the grader's classifier, one pass
        fids.append((step, fid(ref.real_features, features)))
        reads.append((step, float((logits.argmax(1) == y).double().mean())))
        twins.append((step, learning.twin_share(images_then, y)))
        narrow.append((step, float((learning.group_spread(features, y, NUM_CLASSES) / real_label_spread()).min())))
        samples.append(images_then)
        if not step and (reads[0][1] >= AGREE_SLOW or fids[0][1] <= TARGET * ref.single_image_fid) and (
                learning.copy_share(images_then, known) <= learning.COPY_SHARE):  # copies of real digits: told after the run
            raise AssertionError(
                f"G(z, y) draws {'the digit asked for' if reads[0][1] >= AGREE_SLOW else 'digits'} before any training step "
                f"(read as y in {reads[0][1]:.0%} of the samples, classifier-FID {fids[0][1]:.0f}, at the weights G's "
                f"constructor gives): the check trains G from those weights with your train_step, and scores what the "
                f"training teaches; G's constructor must build fresh layers (DCGAN's weights_init), not load trained weights"
            )
        if (step and max(r for _, r in reads[1:]) >= AGREE and min(f for _, f in fids[1:]) <= TARGET * ref.single_image_fid
                and twins[-1][1] <= learning.TWIN_SHARE and narrow[-1][1] >= LABEL_SPREAD):
            break
    best = min(range(1, len(fids)), key=lambda k: fids[k][1])
    top = max(range(1, len(reads)), key=lambda k: reads[k][1])
    copies = max(learning.copy_share(samples[k], known) for k in {best, top, len(samples) - 1})
    return {"seed": seed, "fids": fids, "agreement": reads, "twins": twins, "narrow": narrow, "copies": copies, "seconds": seconds,
            "best_fid": fids[best][1], "best_agreement": reads[top][1], "floor": ref.single_image_fid}


def percent_list(values: list[float]) -> str:
    items = [f"{v:.0%}" for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def draws_the_labels(run: dict) -> bool:
    """A run's G drew the digits asked for: agreement at least AGREE, and its FID came below TARGET of the floor."""
    from reference.grading.learning import TARGET

    return run["best_agreement"] >= AGREE and run["best_fid"] <= TARGET * run["floor"]


def varied(run: dict) -> bool:
    """Whether a run's samples at its last checkpoint (where a run that passes stops) vary with z within every label:
    at most TWIN_SHARE of them have a twin of their label, and no label's spread is below LABEL_SPREAD of real
    digits' (`learning_run`'s "narrow")."""
    from reference.grading.learning import TWIN_SHARE

    return run["twins"][-1][1] <= TWIN_SHARE and run["narrow"][-1][1] >= LABEL_SPREAD


def run_passes(run: dict) -> bool:
    """A run learned the labels (`draws_the_labels`) with new images for each z (`varied`)."""
    return draws_the_labels(run) and varied(run)


def decided(runs: list[dict], seeds: int = len(LEARN_SEEDS)) -> bool:
    """Whether more runs can no longer change whether most of `seeds` runs pass."""
    passed, majority = sum(map(run_passes, runs)), seeds // 2 + 1
    return passed >= majority or passed + (seeds - len(runs)) < majority


def learning_verdict(runs: list[dict], seeds: int = len(LEARN_SEEDS)) -> tuple[str, str]:
    """("pass" | "collapsed" | "slow" | "digits" | "fail", the runs in words) for the runs made (see the module
    docstring)."""
    from reference.grading.learning import TARGET, TWIN_SHARE

    majority = seeds // 2 + 1
    if sum(map(run_passes, runs)) >= majority:
        return "pass", ""
    floor = runs[0]["floor"]
    agreements = [r["best_agreement"] for r in runs]
    collapsed = [r for r in runs if draws_the_labels(r) and not varied(r)]
    if len(collapsed) >= majority:  # most runs draw the digits asked for, with too little variety (a run or two only: slow)
        few = [r["twins"][-1][1] for r in collapsed if r["twins"][-1][1] > TWIN_SHARE]
        narrow = [r["narrow"][-1][1] for r in collapsed if r["twins"][-1][1] <= TWIN_SHARE]
        how = []
        if few:
            how.append(f"{percent_list(few)} of its {PER_CLASS} samples per label have a twin (another sample of their "
                       f"label, from other z, that is the same drawing), where at most {TWIN_SHARE:.0%} may")
        if narrow:
            how.append(f"{'in the other run' + ('s' if len(narrow) > 1 else '') + ' ' if few else ''}the course's "
                       f"classifier sees its least varied label's samples differ {' and '.join(f'{v:.2f}' for v in narrow)} "
                       f"times as much as real digits of that label do, where at least {LABEL_SPREAD:.2f} is expected")
        return "collapsed", (
            f"in {len(runs)} seeded run{'s' if len(runs) > 1 else ''} of {LEARN_STEPS} training steps on the digits, the "
            f"course's digit classifier read G(z, y) as the digit y in {percent_list(agreements)} of the samples at best, "
            f"but G's drawings vary too little with z: at the last checkpoint {'; '.join(how)}; expected new images for "
            f"new z, in {majority} of {seeds} runs"
        )
    told = (
        f"in {len(runs)} seeded run{'s' if len(runs) > 1 else ''} of {LEARN_STEPS} training steps on the digits, the course's "
        f"digit classifier read G(z, y) as the digit y in {percent_list(agreements)} of the samples at best (chance: 10%); "
        f"expected at least {AGREE:.0%}, with a classifier-FID of at most {TARGET * floor:.0f}, in {majority} of {seeds} runs"
    )
    if max(agreements) >= AGREE_SLOW:
        return "slow", told
    if any(r["best_fid"] <= TARGET * r["floor"] for r in runs):
        return "digits", told
    fids = ", ".join(f"{r['best_fid']:.0f}" for r in runs)
    return "fail", f"{told}; its classifier-FID went from {runs[0]['fids'][0][1]:.0f} (untrained) to at best {fids}"


def stale_gradient_fault(submission) -> str | None:
    """Whether train_step's optimizers step on gradients left over from the step before (no zero_grad()),
    measured by `probes_a6.stale_gradients` with the stand-ins; None when neither does (or the step raises:
    the other checks report that)."""
    real, labels = real_batch("mixed")
    step = submission.get(STEP)
    G, D = stand_ins(submission)
    try:
        found = submission.run(probes_a6.stale_gradients, step, G, D, real, labels, nz=NZ, num_classes=NUM_CLASSES)
    except StudentError:
        return None
    found = found if isinstance(found, dict) else {}
    stale = [name for name in ("G", "D") if found.get(name) is True]
    if not stale:
        return None
    steps = " and ".join(f"opt_{name.lower()}.step()" for name in stale)
    clear = " and ".join(f"opt_{name.lower()}.zero_grad()" for name in stale)
    through = "; G's backward() reaches D's weights too, so a zero_grad() right after D's step is too early" if "D" in stale else ""
    return (f"train_step's {steps} also {'apply' if len(stale) > 1 else 'applies'} gradients left over from before (backward() "
            f"adds to .grad, and nothing clears {' and '.join(stale)}'s between {'their' if len(stale) > 1 else 'its'} last step and "
            f"the next backward(){through}): call {clear} right before each backward()")


def crossed_gradient_fault(submission) -> str | None:
    """Whether one player's optimizer step applies the gradient of the other player's loss within one call of
    train_step (`probes_a6.crossed_gradients`: which backward() passes each step applies, on the stand-ins): G's, when D's
    loss reaches G through a fake batch that is not detached and G's gradients are not cleared before G's backward()
    (lesson 08's forgotten .detach(): G learns to keep D undecided, not to fool it); D's, when G's step comes first and
    D's gradients are not cleared before D's backward(), or G's backward() reaches a live D before D's step; and one
    backward() of both losses that feeds both steps and carries one loss into the other network (which one cannot be
    told there: the message gives both fixes). None when neither does (or the step raises: the other checks report
    that)."""
    real, labels = real_batch("mixed")
    try:
        found = submission.run(probes_a6.crossed_gradients, submission.get(STEP), real, labels, nz=NZ, ngf=NGF, ndf=NDF,
                               num_classes=NUM_CLASSES, **d_form(submission), **stand_in_names(submission))
    except StudentError:
        return None
    found = found if isinstance(found, dict) else {}
    told = []
    if found.get("G") is True:
        told.append("opt_g.step() also applies the gradient of D's loss: D's loss reaches G through a fake batch that is not "
                    "detached, and G's gradients are not cleared between D's backward() and G's (G's step then adds \"make "
                    "the fakes look fake\" to \"make them look real\", and G learns to keep D undecided, D(G(z)) at 1/2, not "
                    "to fool it: lesson 08's forgotten .detach()); give D fake.detach() in its step, or call opt_g.zero_grad() "
                    "right before G's backward()")
    if found.get("D") is True:
        told.append("opt_d.step() also applies the gradient of G's loss: G's backward() reaches D's weights through D(fake, "
                    "y_fake), and D's gradients are not cleared between it and D's backward() (D is then partly trained to "
                    "help G fool it); call opt_d.zero_grad() right before D's backward()")
    if found.get("one_pass") is True:
        told.append("one backward() of both losses feeds opt_d.step() and opt_g.step() and carries one network's loss into "
                    "the other's weights: D's loss reaches G when the fake batch in D's loss is not detached, and G's loss "
                    "reaches D's weights when D is not frozen while G's loss is computed; give D's loss fake.detach() and "
                    "compute G's loss with D frozen (D.requires_grad_(False), then True again), or give each network its "
                    "own backward() right after its optimizer's zero_grad()")
    return None if not told else "train_step's " + "; and its ".join(told)


def direction_fault(submission) -> str | None:
    """Whether train_step's D step lowers D's margin between the real images and the fakes, or its G step lowers D's
    score of G's images (a loss of the wrong direction: d_loss's arguments swapped, G's fakes labelled fake),
    measured with the stand-ins (`probes_a6.step_directions`); None when both go the right way or cannot be measured."""
    real, labels = real_batch("mixed")
    G, D = stand_ins(submission)
    try:
        found = submission.run(probes_a6.step_directions, submission.get(STEP), G, D, real, labels, nz=NZ, num_classes=NUM_CLASSES)
    except StudentError:
        return None
    found = found if isinstance(found, dict) else {}
    d_gain, g_gain = found.get("d_gain"), found.get("g_gain")
    if finite(d_gain) and d_gain < -DIRECTION_TOL:
        return ("train_step's D step makes D score the real images lower against the fakes (its margin mean D(real) - "
                "mean D(fake) falls): D's loss rewards the wrong side (its two batches in the other order, or the real batch "
                "labelled fake); D's loss is LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake)), real first")
    if finite(g_gain) and g_gain < -DIRECTION_TOL:
        return ("train_step's G step makes D score G's images lower: G's loss pulls its fakes toward \"fake\" (labelled 0, "
                "or D's loss used for G); G's loss is LOSS.g_loss(D(fake, y_fake)), which labels its fakes real")
    return None


DIRECTION_TOL = 1e-6  # a change of D's mean logit smaller than this is no direction


def unstable_loss_fault(submission) -> str | None:
    """Whether train_step's losses stop being numbers when D is confident (`probes_a6.confident_step_losses`: the
    stand-in D's logits in the hundreds, as a D that wins makes them): log(sigmoid(x)) written by hand is -inf there,
    where the task's LOSS (softplus on the logits) stays finite. Told by the numbers the step returns, or, when it
    returns them in no form read as numbers (or none), by the weights the step made nan; None when both stay finite,
    or the step raises (the other checks say why)."""
    real, labels = real_batch("mixed")
    try:
        found = submission.run(probes_a6.confident_step_losses, submission.get(STEP), real, labels, nz=NZ, ngf=NGF, ndf=NDF,
                               num_classes=NUM_CLASSES, **d_form(submission), **stand_in_names(submission))
    except StudentError:
        return None
    found = found if isinstance(found, dict) else {}
    losses = found.get("losses") if isinstance(found.get("losses"), list) else []
    numbers = [v for v in losses if isinstance(v, float)]
    if numbers and not all(math.isfinite(v) for v in numbers):
        told = f"it returned {' and '.join(f'{v}' for v in numbers[:2])}"
    elif found.get("finite") is False:  # losses returned otherwise, or not at all: the weights tell
        told = "one step made the weights nan"
    else:
        return None
    return (f"train_step's losses are not finite when D is confident (D's logits in the hundreds, as a D that wins makes "
            f"them): {told}. log(sigmoid(x)) written by hand is log(0) = -inf in float32 once x is below about "
            f"-88 (log(1 - sigmoid(x)) once x is above about 17), and one inf or nan step ruins every weight; use the task's "
            f"LOSS.d_loss and LOSS.g_loss, which work on the logits")


def learning_hint(submission) -> str:
    """The first fault the other checks find, as the hint for a run that did not learn the labels."""
    G, D = generator(submission), discriminator(submission)
    found = generator_label_fault(submission, G)
    if found is not None and found[0] >= 2:
        return found[1]
    fault = discriminator_label_fault(submission, D)
    if fault is not None:
        return fault
    fault = label_number_fault(submission, G, D)
    if fault is not None:
        return fault
    fault = real_pairs_fault(submission)
    if fault is not None:
        return fault
    faults = fake_label_faults(submission)
    if faults:
        return faults if isinstance(faults, str) else faults[0]
    fault = mixed_batch_fault(submission, D)
    if fault is not None:
        return fault
    fault = (stale_gradient_fault(submission) or crossed_gradient_fault(submission) or direction_fault(submission)
             or unstable_loss_fault(submission))
    if fault is not None:
        return fault
    record = recorded_step(submission)
    fault = None if record is None else noise_distribution_fault(record["g_noise"])
    if fault is not None:
        return fault
    if found is not None:
        return found[1]
    fault = initial_logits_fault(submission, D)
    if fault is not None:
        return fault
    fault = no_convolution_fault(submission, G, D)
    if fault is not None:
        return fault
    fault = faint_label_fault(submission, D) or summary_label_fault(submission, D)
    if fault is not None:
        return fault
    fault = head_batchnorm_fault(submission, D)
    if fault is not None:
        return fault
    return (
        "compare G, D and train_step with the requirements: the label joined to z in G and to the image or its features "
        "in D, real images with their own labels, new random labels for the fake batch, DCGAN's BatchNorm and LeakyReLU"
    )


@check(points=5)
def test_learns_to_draw_the_digit_asked_for(submission):
    """Short seeded runs teach G to draw the digit asked for: the course's digit classifier reads G(z, y) as y.

    The runs' budget (up to 3 x 500 steps within the check's time limit) holds for G and D built at ngf = ndf =
    16. A G or D whose widths ignore ngf or ndf (`width_fault`) is not trained: it scores 0, and the message
    says why. Training it anyway would train it at its own width, and whether that finishes depends on the
    machine's load (the Keras tutorial's conditional GAN ported, 128 channels in every layer: 0.4-0.5 s a
    step on one core against the solution's 0.04; graded so, it scored 3 of 5 in about 200 s on a quiet
    grader and ran past the check's time limit on a busy one), so one notebook's grade would depend on the
    load, and the timeout's message names the time limit, not the cause. The visible shape checks tell the
    student this before they submit.
    """
    from reference.grading import learning

    generator(submission), discriminator(submission)  # the constructors' own errors first, as in the other checks
    widths = [fault for fault in (width_fault(submission, "G"), width_fault(submission, "D")) if fault is not None]
    if widths:
        raise AssertionError(
            f"the grading run does not train G and D: {'; '.join(widths)}; the learning check trains G and D at "
            f"ngf = ndf = {NGF} to fit its time limit, and a network that ignores its width argument would train at a "
            f"width of its own"
        )
    runs: list[dict] = []
    for seed in LEARN_SEEDS:
        try:
            run = learning_run(submission, seed)
        except StudentError as err:
            if err.not_implemented:
                raise
            told = f"the grading run could not train the GAN: {err.describe()}"
            called = step_call_fault(submission)
            if called is not None:
                raise AssertionError(f"{told.rstrip('.')}; {called}") from None
            record = recorded_step(submission)
            outside = None if record is None else outside_labels_fault(record["g"], len(record["real"]))
            if outside is not None:
                raise AssertionError(f"{told.rstrip('.')}; train_step draws labels that G cannot take: {outside}") from None
            dtype = None if record is None or not index_dtype_error(err.message) else label_dtype_fault(record)
            if dtype is not None:
                raise AssertionError(f"{told.rstrip('.')}; {dtype}") from None
            rows = None if record is None else narrow_rows_fault(submission)
            if rows is not None:
                raise AssertionError(f"{told.rstrip('.')}; {rows}") from None
            shaped = None if record is None else noise_shape_fault(record["g_noise"])
            raise AssertionError(told if shaped is None else f"{told.rstrip('.')}; {shaped}") from None
        if run["copies"] > learning.COPY_SHARE:
            raise AssertionError(
                f"{run['copies']:.0%} of G's samples are (near-)copies of known real digits: each lies closer to one of the "
                f"digits (allowing for noise, blur, brightness, shifts of up to {learning.SHIFT} pixels, mirroring and turns) than "
                f"{1 - learning.COPY_QUANTILE:.0%} of real digits that are not among them do; G must draw new images, not "
                f"return stored ones"
            )
        runs.append(run)
        if decided(runs):
            break
    outcome, told = learning_verdict(runs)
    if outcome == "pass":
        fault = stale_gradient_fault(submission) or crossed_gradient_fault(submission) or unstable_loss_fault(submission)  # learns all the same
        if fault is not None:
            raise Partial(STEP_FAULT_POINTS, f"G learns to draw the digit asked for, but {fault}")
        return
    if outcome == "collapsed":
        found = generator_label_fault(submission, generator(submission))
        hint = found[1] if found is not None else (
            "each z must give its own drawing: pass z through G together with the label, and do not reduce it to a few "
            "values (a sign, a rounding, a scale that makes it vanish)")
        raise Partial(COLLAPSED_POINTS, f"{told}; {hint}")
    if outcome == "slow":
        raise Partial(SLOW_POINTS, f"{told}: it learns the labels, but slowly or not in every run; {learning_hint(submission)}")
    if outcome == "digits":
        raise Partial(DIGITS_POINTS, f"{told}: G learns to draw digits, but not the digit it is asked for; {learning_hint(submission)}")
    raise AssertionError(f"{told}: it does not learn to draw digits; {learning_hint(submission)}")

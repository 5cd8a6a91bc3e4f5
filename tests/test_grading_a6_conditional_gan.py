"""The a6 autograder gives the right score and message to right and wrong submissions.

Each submission is the solution notebook with some of its three solution cells (`generator`,
`discriminator`, `train_step`) replaced and graded by the checks of
tests/autograders/test_a6_conditional_gan.py: the solution, the student version and the generator
that acts otherwise while graded run in the sandboxed worker like a student's notebook, graded
across the proxy; the honest ones in this process (`graded_here`; test_the_sandbox_grades_like_this_process
shows that the sandbox gives a sample of them the same results). The learning
check (seeded training runs) is the expensive part, so faults that do not interfere share a
notebook (a fault of G, of D and of the step, each graded by its own check), and each notebook is
graded once per module (`graded`): the solution, three other correct designs, the untouched student
version and the wrong submissions of WRONG, some of them with the learning check. The learning verdict's
tiers are tested on made-up runs, the probes on their own, and the notebook in a kernel (smoke
mode): the solution with MNIST, and "Run All" on the student version without it (the offline digits).
The digits classifier of the learning check is trained once per module into a temporary cache.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from conftest import graded_here, notebook_with_cells
from reference.data import load_dataset
from reference.grading import probes_a6
from reference.grading.local import check_module_path, load_module
from reference.grading.checks import END_WITH_TANH, run_check
from reference.grading.runner import grade_notebook
from reference.models.dcgan import Discriminator, Generator, weights_init

A = "a6_conditional_gan"
ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"
STUDENT = ROOT / "assignments" / A / f"{A}.ipynb"
CHECKS = [
    "test_generator_output_shape",
    "test_generator_output_range",
    "test_generator_uses_labels_and_noise",
    "test_discriminator_output",
    "test_discriminator_uses_labels",
    "test_step_shows_real_images_with_their_labels",
    "test_step_draws_labels_for_the_fake_batch",
    "test_learns_to_draw_the_digit_asked_for",
]
FULL = dict(zip(CHECKS, (2.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 5.0)))
OK = {name: (points, "") for name, points in FULL.items()}
LEARNS = "test_learns_to_draw_the_digit_asked_for"

REFERENCE_SET = "digits"  # what the learning check trains on; `grading_cache` trains its classifier first (~10 s)
pytestmark = pytest.mark.usefixtures("grading_cache")
checks = load_module(check_module_path(A, ROOT))  # the check module: its constants and the learning verdict


# ---------------------------------------------------------------------------------------------
# The cells of the submissions
# ---------------------------------------------------------------------------------------------

ONE_HOT_G = '''
class ConditionalGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.main = Generator(<NZ> + <CLASSES>, ngf, channels=1, size=28).main<LAYERS>
        self.apply(weights_init)

    def forward(self, z, y):
        return self.main(torch.cat([<Z>, <ONE_HOT>.to(z.dtype)], dim=1))
'''


def one_hot_g(nz="nz", classes="num_classes", z="z", one_hot="F.one_hot(y, self.num_classes)", layers="") -> str:
    """The solution's generator (one-hot joined to z), with one part changed."""
    return (ONE_HOT_G.replace("<NZ>", nz).replace("<CLASSES>", classes).replace("<Z>", z).replace("<ONE_HOT>", one_hot)
            .replace("<LAYERS>", layers))


CHANNELS_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.main = Discriminator(ndf, channels=1 + <CLASSES>, size=28).main
        self.apply(weights_init)

    def forward(self, x, y):
        maps = <ONE_HOT>.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.main(torch.cat([x, maps], dim=1)).view(-1)<OUT>
'''


def channels_d(classes="num_classes", one_hot="F.one_hot(y, self.num_classes)", out="") -> str:
    """The solution's discriminator (the one-hot as extra channels), with one part changed."""
    return CHANNELS_D.replace("<CLASSES>", classes).replace("<ONE_HOT>", one_hot).replace("<OUT>", out)


STEP = '''
def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
    b = real.shape[0]
    z = torch.randn(b, nz)
    y_fake = <Y_FAKE>
    fake = G(z, y_fake)
    loss_d = LOSS.d_loss(D(real, <REAL_Y>), D(fake.detach(), <FAKE_Y>))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = LOSS.g_loss(D(fake, <FAKE_Y>))
    opt_g.zero_grad()
    loss_g.backward()
    <G_STEP>
    return loss_d.item(), loss_g.item()
'''


def step(y_fake="torch.randint(0, num_classes, (b,))", real_y="labels", fake_y="y_fake", g_step="opt_g.step()") -> str:
    """The solution's training step, with one part changed."""
    return STEP.replace("<Y_FAKE>", y_fake).replace("<REAL_Y>", real_y).replace("<FAKE_Y>", fake_y).replace("<G_STEP>", g_step)


FRESH_EMBEDDING_G = '''
class ConditionalGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.main = Generator(nz + 16, ngf, channels=1, size=28).main
        self.apply(weights_init)

    def forward(self, z, y):
        embed = nn.Embedding(self.num_classes, 16)  # made here: new and random at every call
        return self.main(torch.cat([z, embed(y)], dim=1))
'''

N_BY_1_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.main = Discriminator(ndf, channels=1 + num_classes, size=28).main
        self.apply(weights_init)

    def forward(self, x, y):
        maps = F.one_hot(y, self.num_classes).float()[:, :, None, None].expand(-1, -1, 28, 28)
        return self.main(torch.cat([x, maps], dim=1)).view(-1, 1)  # (N, 1)
'''

BCE_STEP = '''
criterion = nn.BCEWithLogitsLoss()

def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
    b = real.size(0)
    valid, fake_target = torch.ones(b), torch.zeros(b)  # (B,)
    z = torch.randn(b, nz)
    gen_labels = torch.randint(0, num_classes, (b,))
    gen_imgs = G(z, gen_labels)
    opt_d.zero_grad()
    d_loss = criterion(D(real, labels), valid) + criterion(D(gen_imgs.detach(), gen_labels), fake_target)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = criterion(D(gen_imgs, gen_labels), valid)
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()
'''

FRESH_PLANE_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.main = Discriminator(ndf, channels=2, size=28).main
        self.apply(weights_init)

    def forward(self, x, y):
        plane = nn.Embedding(self.num_classes, 28 * 28)(y).view(-1, 1, 28, 28)  # made here: new at every call
        return self.main(torch.cat([x, plane], dim=1)).view(-1)
'''

CORRECT = {
    # nn.Embedding joined to z; D runs the convs on the image alone and joins the label's embedding to the
    # features before an MLP head; the step's losses written with BCE on logits
    "embedding_g_features_mlp_d": {
        "generator": '''
            class ConditionalGenerator(nn.Module):
                def __init__(self, nz=100, ngf=64, num_classes=10, embed_dim=50):
                    super().__init__()
                    self.embed = nn.Embedding(num_classes, embed_dim)
                    self.net = nn.Sequential(
                        nn.ConvTranspose2d(nz + embed_dim, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                        nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                        nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh(),
                    )
                    self.apply(weights_init)

                def forward(self, z, y):
                    h = torch.cat([z, self.embed(y)], 1)
                    return self.net(h[:, :, None, None])
        ''',
        "discriminator": '''
            class ConditionalDiscriminator(nn.Module):
                def __init__(self, ndf=64, num_classes=10, embed_dim=50):
                    super().__init__()
                    self.convs = nn.Sequential(*list(Discriminator(ndf, channels=1, size=28).main)[:-1])  # (N, ndf*4, 4, 4)
                    self.embed = nn.Embedding(num_classes, embed_dim)
                    self.head = nn.Sequential(nn.Linear(ndf * 4 * 4 * 4 + embed_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
                    self.apply(weights_init)

                def forward(self, x, y):
                    h = self.convs(x).flatten(1)
                    return self.head(torch.cat([h, self.embed(y)], 1))  # (N, 1)
        ''',
        "train_step": '''
            def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
                n = len(real)
                y_fake = torch.randint(num_classes, (n,), device=real.device)
                fake = G(torch.randn(n, nz, device=real.device), y_fake)
                real_logits, fake_logits = D(real, labels).view(-1), D(fake.detach(), y_fake).view(-1)
                loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones(n))
                          + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros(n)))
                opt_d.zero_grad(); loss_d.backward(); opt_d.step()
                loss_g = F.binary_cross_entropy_with_logits(D(fake, y_fake).view(-1), torch.ones(n))
                opt_g.zero_grad(); loss_g.backward(); opt_g.step()
                return float(loss_d), float(loss_g)
        ''',
    },
    # the label's embedding (size nz) multiplies z; a projection discriminator (Miyato & Koyama 2018); the
    # step samples the labels before the noise and makes a second fake batch for G's step
    "product_g_projection_d": {
        "generator": '''
            class ConditionalGenerator(nn.Module):
                def __init__(self, nz=100, ngf=64, num_classes=10):
                    super().__init__()
                    self.label_emb = nn.Embedding(num_classes, nz)
                    self.main = Generator(nz, ngf, channels=1, size=28).main
                    self.apply(weights_init)

                def forward(self, z, y):
                    return self.main(z * self.label_emb(y))
        ''',
        "discriminator": '''
            class ConditionalDiscriminator(nn.Module):
                def __init__(self, ndf=64, num_classes=10):
                    super().__init__()
                    self.phi = nn.Sequential(*list(Discriminator(ndf, channels=1, size=28).main)[:-1], nn.Flatten())
                    features = ndf * 4 * 4 * 4
                    self.psi = nn.Linear(features, 1)
                    self.embed = nn.Embedding(num_classes, features)
                    self.apply(weights_init)
                    nn.init.zeros_(self.embed.weight)  # the projection starts at zero: D starts as the plain DCGAN's

                def forward(self, x, y):
                    h = self.phi(x)
                    return self.psi(h).squeeze(1) + (self.embed(y) * h).sum(1)
        ''',
        "train_step": '''
            def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
                b = real.size(0)
                y = torch.randint(0, num_classes, (b,))
                fake = G(torch.randn(b, nz), y)
                opt_d.zero_grad()
                loss_d = LOSS.d_loss(D(real, labels), D(fake.detach(), y))
                loss_d.backward()
                opt_d.step()
                y2 = torch.randint(0, num_classes, (b,))
                opt_g.zero_grad()
                loss_g = LOSS.g_loss(D(G(torch.randn(b, nz), y2), y2))
                loss_g.backward()
                opt_g.step()
                return loss_d.item(), loss_g.item()
        ''',
    },
    # SNGAN/BigGAN's design: conditional BatchNorm in G (the label sets each BatchNorm's scale and shift), a projection D
    # whose embedding starts at N(0, 0.02), and PyTorch-GAN's order (G's step first, D's on the same fakes detached).
    # It learns the labels late: at 300 steps 18% and 16%, at 400 66% and 76% (seeds 0 and 1)
    "condbn_g_projection_d_g_step_first": {
        "generator": '''
            class CondBN(nn.Module):
                def __init__(self, c, num_classes):
                    super().__init__()
                    self.bn = nn.BatchNorm2d(c, affine=False)
                    self.gamma, self.beta = nn.Embedding(num_classes, c), nn.Embedding(num_classes, c)
                    nn.init.ones_(self.gamma.weight)
                    nn.init.zeros_(self.beta.weight)

                def forward(self, h, y):
                    return self.gamma(y)[:, :, None, None] * self.bn(h) + self.beta(y)[:, :, None, None]


            class ConditionalGenerator(nn.Module):
                def __init__(self, nz=100, ngf=64, num_classes=10):
                    super().__init__()
                    chans = [ngf * 4, ngf * 2, ngf]
                    self.convs = nn.ModuleList([
                        nn.ConvTranspose2d(nz, chans[0], 4, 1, 0, bias=False),
                        nn.ConvTranspose2d(chans[0], chans[1], 3, 2, 1, bias=False),
                        nn.ConvTranspose2d(chans[1], chans[2], 4, 2, 1, bias=False),
                    ])
                    self.norms = nn.ModuleList([CondBN(c, num_classes) for c in chans])
                    self.out = nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False)
                    self.apply(weights_init)

                def forward(self, z, y):
                    h = z[:, :, None, None]
                    for conv, norm in zip(self.convs, self.norms):
                        h = F.relu(norm(conv(h), y))
                    return torch.tanh(self.out(h))
        ''',
        "discriminator": '''
            class ConditionalDiscriminator(nn.Module):
                def __init__(self, ndf=64, num_classes=10):
                    super().__init__()
                    self.phi = nn.Sequential(*list(Discriminator(ndf, channels=1, size=28).main)[:-1], nn.Flatten())
                    n_features = ndf * 4 * 16
                    self.psi = nn.Linear(n_features, 1)
                    self.embed = nn.Embedding(num_classes, n_features)
                    self.apply(weights_init)
                    nn.init.normal_(self.embed.weight, 0.0, 0.02)

                def forward(self, x, y):
                    h = self.phi(x)
                    return self.psi(h)[:, 0] + torch.einsum("nf,nf->n", self.embed(y), h)
        ''',
        "train_step": '''
            LABEL_RNG = torch.Generator().manual_seed(1234)  # my own stream for the fake labels

            def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
                G.train(); D.train()
                b = real.shape[0]
                y_fake = torch.randint(0, num_classes, (b,), generator=LABEL_RNG).to(real.device)
                fake = G(torch.randn(b, nz, device=real.device), y_fake)
                opt_g.zero_grad()
                loss_g = LOSS.g_loss(D(fake, y_fake))
                loss_g.backward()
                opt_g.step()
                opt_d.zero_grad()
                loss_d = LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake))
                loss_d.backward()
                opt_d.step()
                return loss_d.item(), loss_g.item()
        ''',
    },
    # DeepLearning.AI's conditional GAN (C1W4): its blocks (3-4-3-4 transposed convs, D convs without padding, D
    # returning (N, 1)), G and D taking integer labels or one-hot rows alike; the step hands both one-hot rows of
    # floats, BCE on logits, D's backward with retain_graph=True
    "deeplearning_ai_one_hot_rows": {
        "generator": '''
            class ConditionalGenerator(nn.Module):
                def __init__(self, nz=100, ngf=64, num_classes=10):
                    super().__init__()
                    self.num_classes = num_classes
                    self.input_dim = nz + num_classes
                    self.gen = nn.Sequential(
                        self.make_gen_block(self.input_dim, ngf * 4),  # (N, ngf*4, 3, 3)
                        self.make_gen_block(ngf * 4, ngf * 2, kernel_size=4, stride=1),  # (N, ngf*2, 6, 6)
                        self.make_gen_block(ngf * 2, ngf),  # (N, ngf, 13, 13)
                        self.make_gen_block(ngf, 1, kernel_size=4, final_layer=True),  # (N, 1, 28, 28)
                    )
                    self.apply(weights_init)

                def make_gen_block(self, input_channels, output_channels, kernel_size=3, stride=2, final_layer=False):
                    if not final_layer:
                        return nn.Sequential(nn.ConvTranspose2d(input_channels, output_channels, kernel_size, stride),
                                             nn.BatchNorm2d(output_channels), nn.ReLU(inplace=True))
                    return nn.Sequential(nn.ConvTranspose2d(input_channels, output_channels, kernel_size, stride), nn.Tanh())

                def forward(self, z, y):
                    one_hot = y.float() if y.dim() == 2 else F.one_hot(y, self.num_classes).float()
                    x = torch.cat([z, one_hot], 1)
                    return self.gen(x.view(len(x), self.input_dim, 1, 1))
        ''',
        "discriminator": '''
            class ConditionalDiscriminator(nn.Module):
                def __init__(self, ndf=64, num_classes=10):
                    super().__init__()
                    self.num_classes = num_classes
                    self.disc = nn.Sequential(
                        self.make_disc_block(1 + num_classes, ndf),  # (N, ndf, 13, 13)
                        self.make_disc_block(ndf, ndf * 2),  # (N, ndf*2, 5, 5)
                        self.make_disc_block(ndf * 2, 1, final_layer=True),  # (N, 1, 1, 1)
                    )
                    self.apply(weights_init)

                def make_disc_block(self, input_channels, output_channels, kernel_size=4, stride=2, final_layer=False):
                    if not final_layer:
                        return nn.Sequential(nn.Conv2d(input_channels, output_channels, kernel_size, stride),
                                             nn.BatchNorm2d(output_channels), nn.LeakyReLU(0.2, inplace=True))
                    return nn.Sequential(nn.Conv2d(input_channels, output_channels, kernel_size, stride))

                def forward(self, x, y):
                    one_hot = y.float() if y.dim() == 2 else F.one_hot(y, self.num_classes).float()
                    maps = one_hot[:, :, None, None].repeat(1, 1, x.shape[2], x.shape[3])
                    disc_pred = self.disc(torch.cat([x, maps], 1))
                    return disc_pred.view(len(disc_pred), -1)
        ''',
        "train_step": '''
            criterion = nn.BCEWithLogitsLoss()

            def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
                b = len(real)
                one_hot_labels = F.one_hot(labels, num_classes).float()
                fake_one_hot = F.one_hot(torch.randint(0, num_classes, (b,)), num_classes).float()
                fake = G(torch.randn(b, nz), fake_one_hot)
                opt_d.zero_grad()
                disc_fake_pred = D(fake.detach(), fake_one_hot)
                disc_real_pred = D(real, one_hot_labels)
                disc_loss = (criterion(disc_fake_pred, torch.zeros_like(disc_fake_pred))
                             + criterion(disc_real_pred, torch.ones_like(disc_real_pred))) / 2
                disc_loss.backward(retain_graph=True)
                opt_d.step()
                opt_g.zero_grad()
                disc_fake_pred = D(fake, fake_one_hot)
                gen_loss = criterion(disc_fake_pred, torch.ones_like(disc_fake_pred))
                gen_loss.backward()
                opt_g.step()
                return disc_loss.item(), gen_loss.item()
        ''',
    },
}

# round 5: the two-branch cDCGAN of the common PyTorch tutorials (z and the one-hot label each through its own first
# layer, then joined; D's image and label planes likewise), one-hot as torch.eye(num_classes)[y] and planes by .repeat,
# PyTorch-GAN's step order (G's step first) and the fake labels drawn as int32, which torch.eye's indexing takes: right
CORRECT["two_branch_cdcgan_int32_labels_g_step_first"] = {
    "generator": '''
class ConditionalGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.deconv1_z = nn.ConvTranspose2d(nz, ngf * 2, 7, 1, 0)  # (N, ngf*2, 7, 7)
        self.bn1_z = nn.BatchNorm2d(ngf * 2)
        self.deconv1_y = nn.ConvTranspose2d(num_classes, ngf * 2, 7, 1, 0)
        self.bn1_y = nn.BatchNorm2d(ngf * 2)
        self.deconv2 = nn.ConvTranspose2d(ngf * 4, ngf, 4, 2, 1)  # 14x14
        self.bn2 = nn.BatchNorm2d(ngf)
        self.deconv3 = nn.ConvTranspose2d(ngf, 1, 4, 2, 1)  # 28x28
        self.apply(weights_init)

    def forward(self, z, y):
        onehot = torch.eye(self.num_classes, device=z.device)[y]
        x = F.relu(self.bn1_z(self.deconv1_z(z.view(-1, z.size(1), 1, 1))))
        yy = F.relu(self.bn1_y(self.deconv1_y(onehot.view(-1, self.num_classes, 1, 1))))
        x = F.relu(self.bn2(self.deconv2(torch.cat([x, yy], 1))))
        return torch.tanh(self.deconv3(x))
''',
    "discriminator": '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.conv1_x = nn.Conv2d(1, ndf // 2, 4, 2, 1)  # 14x14
        self.conv1_y = nn.Conv2d(num_classes, ndf // 2, 4, 2, 1)
        self.conv2 = nn.Conv2d(ndf, ndf * 2, 4, 2, 1)  # 7x7
        self.bn2 = nn.BatchNorm2d(ndf * 2)
        self.conv3 = nn.Conv2d(ndf * 2, 1, 7, 1, 0)
        self.apply(weights_init)

    def forward(self, x, y):
        planes = torch.eye(self.num_classes, device=x.device)[y].view(-1, self.num_classes, 1, 1).repeat(1, 1, 28, 28)
        h = torch.cat([F.leaky_relu(self.conv1_x(x), 0.2), F.leaky_relu(self.conv1_y(planes), 0.2)], 1)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        return self.conv3(h).view(-1)
''',
    "train_step": '''
adversarial_loss = nn.BCEWithLogitsLoss()

def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
    b = real.size(0)
    valid = torch.ones(b, device=real.device)
    fake_t = torch.zeros(b, device=real.device)
    opt_g.zero_grad()
    z = torch.randn(b, nz, device=real.device)
    gen_labels = torch.randint(0, num_classes, (b,), device=real.device, dtype=torch.int32)
    gen_imgs = G(z, gen_labels)
    g_loss = adversarial_loss(D(gen_imgs, gen_labels), valid)
    g_loss.backward()
    opt_g.step()
    opt_d.zero_grad()
    d_loss = (adversarial_loss(D(real, labels), valid) + adversarial_loss(D(gen_imgs.detach(), gen_labels), fake_t)) / 2
    d_loss.backward()
    opt_d.step()
    return d_loss.item(), g_loss.item()
''',
}

# round 6: one backward() of both losses, each loss reaching only its own network's weights (the fake detached for D's
# loss, D frozen while G's loss is computed), both optimizers stepped after it: right (the gradient ledger alone called
# it crossed: 4/5 with the forgotten-detach message)
CORRECT["one_backward_of_both_losses_d_frozen_for_g"] = {
    "train_step": '''
def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
    b = real.shape[0]
    y_fake = torch.randint(0, num_classes, (b,))
    fake = G(torch.randn(b, nz), y_fake)
    loss_d = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake.detach(), y_fake)).mean()
    D.requires_grad_(False)
    loss_g = F.softplus(-D(fake, y_fake)).mean()
    D.requires_grad_(True)
    opt_d.zero_grad()
    opt_g.zero_grad()
    (loss_d + loss_g).backward()
    opt_d.step()
    opt_g.step()
    return loss_d.item(), loss_g.item()
''',
}

# Faults that do not interfere share a notebook: each is graded by its own check, and only the named
# checks lose points. `learning` says whether the notebook's learning check is graded (the others skip it).
WRONG = {
    # G: nz fixed at 100, no tanh, and z replaced by zeros (it ignores z); D ends in a sigmoid; the step never
    # draws label 9 (randint's upper bound taken as inclusive) and forgets opt_g.step(): nothing can learn
    "fixed_nz_no_tanh_ignores_z__sigmoid_d__no_9_no_g_update": {
        "cells": {
            "generator": one_hot_g(nz="100", z="torch.zeros_like(z)", layers="[:-1]"),
            "discriminator": channels_d(out=".sigmoid()"),
            "train_step": step(y_fake="torch.randint(0, num_classes - 1, (b,))", g_step="pass"),
        },
        "learning": True,
        "expected": {
            "test_generator_output_shape": (
                1.0,
                "with nz=32, G(z, y) raises RuntimeError in `main.0` (Unflatten(dim=1, unflattened_size=(110, 1, 1))) on "
                "its input (N, 42): unflatten: Provided sizes [110, 1, 1] don't multiply up to the size of dim 1 (42) in "
                "the input tensor; the given Generator(nz_in, ...) unflattens exactly nz_in numbers per sample: nz_in must "
                "be the size that reaches it, z's (the `nz` argument) plus the label's (num_classes = 10 for a one-hot); "
                "expected (N, 1, 28, 28) for every nz: use the `nz` argument, do not fix it at 100",
            ),
            "test_generator_output_range": (
                0.0,
                "G's output reaches [<n>, <n>] once its weights are scaled up; expected [-1, 1]: end G with nn.Tanh()",
            ),
            "test_generator_uses_labels_and_noise": (
                1.0,
                "G(z, y) draws the same image for every z of a label (other z with the same labels give the same "
                "output): it ignores z, so it has one drawing per digit; pass z through G together with the label",
            ),
            "test_discriminator_output": (
                1.0,
                "D's outputs stay in [<n>, <n>] even with its weights scaled up 25 times: it returns probabilities (a "
                "final sigmoid); return logits, without nn.Sigmoid(): LOSS (reference.losses) takes logits",
            ),
            "test_step_draws_labels_for_the_fake_batch": (
                1.0,
                "in a step with 150 real images G is never asked for label 9: torch.randint(low, high, size) draws from "
                "low to high - 1, so torch.randint(0, num_classes, (B,)) draws every label 0..9",
            ),
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: after 5 calls of train_step, G's parameters are still the "
                "initial ones: train_step never updates G; call opt_g.zero_grad(), loss_G.backward() and opt_g.step()",
            ),
        },
    },
    # G: the one-hot reversed against the noise (image i gets label N-1-i); D: the label's embedding joins the
    # features right before one linear layer (it only adds a constant per class); the step swaps the labels:
    # D(real, y_fake) and D(fake, labels)
    "labels_reversed__linear_head_d__labels_swapped": {
        "cells": {
            "generator": one_hot_g(one_hot="F.one_hot(y, self.num_classes).flip(0)"),
            "discriminator": '''
                class ConditionalDiscriminator(nn.Module):
                    def __init__(self, ndf=64, num_classes=10, embed_dim=50):
                        super().__init__()
                        self.convs = nn.Sequential(*list(Discriminator(ndf, channels=1, size=28).main)[:-1])
                        self.embed = nn.Embedding(num_classes, embed_dim)
                        self.head = nn.Linear(ndf * 4 * 4 * 4 + embed_dim, 1)
                        self.apply(weights_init)

                    def forward(self, x, y):
                        return self.head(torch.cat([self.convs(x).flatten(1), self.embed(y)], 1)).squeeze(1)
            ''',
            "train_step": step(real_y="y_fake", fake_y="labels"),
        },
        "learning": False,
        "expected": {
            "test_generator_uses_labels_and_noise": (
                1.0,
                "in eval mode, image i of G(z, y) differs from G(z[i:i+1], y[i:i+1]) (by <n>% of the largest value): "
                "each image must depend on its own z[i] and y[i] only; join z and the label along dim 1 and do not mix "
                "labels across the batch (no mean, sum or reshape over dim 0)",
            ),
            "test_discriminator_uses_labels": (
                0.0,
                "D(x, y) changes with y by the same amount whatever the image: the label only adds a constant per class "
                "(as when its vector joins the features right before a single linear layer), so D cannot tell whether an "
                "image matches its label; let the label meet the image in a nonlinear layer (extra input channels, or an "
                "MLP head after the convs), or use a projection <embed(y), phi(x)>",
            ),
            "test_step_shows_real_images_with_their_labels": (
                0.0,
                "D judges the real images with the labels drawn for the fake batch, not with their own: D(real, labels) "
                "for the real images, D(fake, y_fake) for G's",
            ),
            "test_step_draws_labels_for_the_fake_batch": (
                1.0,
                "D judges G's images with the real batch's labels: D must judge each fake image with the label G drew it "
                "for, D(fake, y_fake), in D's step and in G's",
            ),
        },
    },
    # G's one-hot has 9 entries (labels 0..8); D's one-hot has no num_classes (its size follows the batch's largest
    # label); the fake batch takes the real batch's labels
    "one_hot_of_9__one_hot_without_num_classes__fake_labels_are_real": {
        "cells": {
            "generator": one_hot_g(classes="9", one_hot="F.one_hot(y, 9)"),
            "discriminator": channels_d(one_hot="F.one_hot(y)"),
            "train_step": step(y_fake="labels"),
        },
        "learning": True,
        "expected": {
            "test_generator_output_shape": (0.0, "<G9>; expected (N, 1, 28, 28)"),
            "test_generator_output_range": (0.0, "<G9>"),
            "test_generator_uses_labels_and_noise": (0.0, "<G9>"),
            "test_discriminator_output": (0.0, "<D0>; expected one logit per image, (N,) or (N, 1)"),
            "test_discriminator_uses_labels": (0.0, "<D0>"),
            "test_step_draws_labels_for_the_fake_batch": (
                1.0,
                "G is asked for the real batch's labels (y_fake = labels): draw the fake batch's labels at random over "
                "all classes, y_fake = torch.randint(0, num_classes, (B,)), so that G learns every digit it can be asked for",
            ),
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: calling `ConditionalGenerator.forward` raised RuntimeError: "
                "Class values must be smaller than num_classes.",
            ),
        },
    },
    # G accepts y but never uses it: it learns digits, not the digit asked for
    "generator_ignores_y": {
        "cells": {"generator": one_hot_g(one_hot="torch.zeros(len(z), self.num_classes)")},
        "learning": True,
        "expected": {
            "test_generator_uses_labels_and_noise": (0.0, "<G_IGNORES_Y>"),
            LEARNS: (
                1.0,
                "in 2 seeded runs of 500 training steps on the digits, the course's digit classifier read G(z, y) as the "
                "digit y in 10% and 10% of the samples at best (chance: 10%); expected at least 50%, with a "
                "classifier-FID of at most <n>, in 2 of 3 runs: G learns to draw digits, but not the digit it is asked "
                "for; <G_IGNORES_Y>",
            ),
        },
    },
    # G ignores z (zeros in its place): it learns the digit asked for, one drawing per label
    "generator_ignores_z": {
        "cells": {"generator": one_hot_g(z="torch.zeros_like(z)")},
        "learning": True,
        "expected": {
            "test_generator_uses_labels_and_noise": (1.0, "<G_IGNORES_Z>"),
            LEARNS: (
                2.0,
                "<TWINS>; <G_IGNORES_Z>",
            ),
        },
    },
    # z's sign alone reaches G (each of z's numbers replaced by the sign of its first): two drawings per label
    "sign_of_z_picks_one_of_two_drawings": {
        "cells": {"generator": one_hot_g(z="torch.sign(z[:, :1]).expand_as(z)")},
        "learning": True,
        "expected": {
            "test_generator_uses_labels_and_noise": (1.0, "<G_NO_Z_GRADIENT>"),
            LEARNS: (
                2.0,
                "<TWINS>; <G_NO_Z_GRADIENT>",
            ),
        },
    },
    # z scaled to a thousandth: G's images change with z, slightly (the other checks pass it), and its drawings for
    # one label are the same to the eye
    "z_scaled_to_vanish": {
        "cells": {"generator": one_hot_g(z="z * 1e-3")},
        "learning": True,
        "expected": {
            LEARNS: (
                2.0,
                "<TWINS>; each z must give its own drawing: pass z through G together with the label, and do not reduce "
                "it to a few values (a sign, a rounding, a scale that makes it vanish)",
            ),
        },
    },
    # z reaches G for labels 0-4 only: half the labels drawn as one image each (found by session 37's red team: its
    # 50% of twinned samples passed); the other labels' variety does not hide them
    "z_ignored_for_half_the_labels": {
        "cells": {"generator": one_hot_g(z="z * (y < 5).to(z.dtype)[:, None]")},
        "learning": True,
        "expected": {
            LEARNS: (
                2.0,
                "in 2 seeded runs of 500 training steps on the digits, the course's digit classifier read G(z, y) as the "
                "digit y in <n>% and <n>% of the samples at best, but G's drawings vary too little with z: at the "
                "last checkpoint the course's classifier sees its least varied label's samples differ 0.00 and 0.00 "
                "times as much as real digits of that label do, where at least 0.08 is expected; expected new images "
                "for new z, in 2 of 3 runs; each z must give its own drawing: pass z through G together with the label, "
                "and do not reduce it to a few values (a sign, a rounding, a scale that makes it vanish)",
            ),
        },
    },
    # the label given to G but not to D (D is the plain DCGAN discriminator), and the real labels shuffled
    # against the images in D's batch
    "label_to_g_not_d__real_labels_shuffled": {
        "cells": {
            "discriminator": '''
                class ConditionalDiscriminator(nn.Module):
                    def __init__(self, ndf=64, num_classes=10):
                        super().__init__()
                        self.main = Discriminator(ndf, channels=1, size=28).main
                        self.apply(weights_init)

                    def forward(self, x, y):
                        return self.main(x).view(-1)
            ''',
            "train_step": step(real_y="labels[torch.randperm(b)]"),
        },
        "learning": True,
        "expected": {
            "test_discriminator_uses_labels": (0.0, "<D_IGNORES_Y>"),
            "test_step_shows_real_images_with_their_labels": (
                0.0,
                "D judges the real images with their batch's labels in another order (<n> of 150 images with a label "
                "that is not theirs): image i must come with labels[i]; shuffle or index images and labels together, or "
                "not at all",
            ),
            LEARNS: (
                1.0,
                "in 2 seeded runs of 500 training steps on the digits, the course's digit classifier read G(z, y) as the "
                "digit y in <n>% and <n>% of the samples at best (chance: 10%); expected at least 50%, with a "
                "classifier-FID of at most <n>, in 2 of 3 runs: G learns to draw digits, but not the digit it is asked "
                "for; <D_IGNORES_Y>",
            ),
        },
    },
    # G and D taken from the course library's conditional DCGAN (lesson 7): nothing that uses them scores
    "the_library_s_conditional_dcgan": {
        "cells": {
            "generator": '''
                from reference.models import conditional

                def ConditionalGenerator(nz=100, ngf=64, num_classes=10):
                    return conditional.ConditionalGenerator(nz, ngf, 1, 28, num_classes)
            ''',
            "discriminator": '''
                class ConditionalDiscriminator(conditional.ProjectionDiscriminator):
                    def __init__(self, ndf=64, num_classes=10):
                        super().__init__(ndf, 1, 28, num_classes)
            ''',
        },
        "learning": True,
        "expected": {
            "test_generator_output_shape": (0.0, "<LIBRARY_G>"),
            "test_generator_output_range": (0.0, "<LIBRARY_G>"),
            "test_generator_uses_labels_and_noise": (0.0, "<LIBRARY_G>"),
            "test_discriminator_output": (0.0, "<LIBRARY_D>"),
            "test_discriminator_uses_labels": (0.0, "<LIBRARY_D>"),
            LEARNS: (0.0, "<LIBRARY_G>"),
        },
    },
    # the solution, but in eval mode while graded G returns a stored digit of class y for each (z, y) (the same
    # one for the same z): class agreement and FID would pass, the copy check does not
    "returns_stored_digits_when_graded": {
        "cells": {"generator": one_hot_g() + textwrap.dedent('''

            import os
            from reference.data import load_dataset

            _DIGITS = load_dataset("digits", split="train")
            _BY_CLASS = [_DIGITS.data[_DIGITS.labels == k].float() / 127.5 - 1 for k in range(10)]

            class Copier(ConditionalGenerator):
                def forward(self, z, y):
                    out = super().forward(z, y)
                    if os.environ.get("NBGRADER_EXECUTION") and not self.training:
                        pick = (z[:, 0].abs() * 1000).long()
                        stored = torch.stack([_BY_CLASS[int(k)][int(p) % len(_BY_CLASS[int(k)])] for k, p in zip(y, pick)])
                        return stored + 0 * out
                    return out

            ConditionalGenerator = Copier
        ''')},
        "learning": True,
        "expected": {
            LEARNS: (
                0.0,
                "100% of G's samples are (near-)copies of known real digits: each lies closer to one of the digits "
                "(allowing for noise, blur, brightness, shifts of up to 2 pixels, mirroring and turns) than 90% of real digits that are not "
                "among them do; G must draw new images, not return stored ones",
            ),
        },
    },
    # G's constructor gives it weights that already draw each digit (here: the class means of the digits, blended into
    # the solution's output; loading a state_dict trained elsewhere does the same): not what the training taught
    "draws_the_digits_before_any_training": {
        "cells": {"generator": one_hot_g() + textwrap.dedent('''

            from reference.data import load_dataset

            _DIGITS = load_dataset("digits", split="train")
            _MEANS = torch.stack([(_DIGITS.data[_DIGITS.labels == k].float() / 127.5 - 1).mean(0) for k in range(10)])

            class Templated(ConditionalGenerator):
                def forward(self, z, y):
                    return 0.8 * _MEANS[y] + 0.2 * super().forward(z, y)

            ConditionalGenerator = Templated
        ''')},
        "learning": True,
        "expected": {
            "test_generator_output_range": (
                0.0,
                "G's output stays in [-1, <n>] even with its weights scaled up, short of the data's -1 and 1 (a tanh saturates "
                "there): its tanh's output is squashed again (a second tanh caps it at 0.762, a factor below 1 shrinks it), so "
                "it can never draw the images' darkest and brightest pixels; apply nn.Tanh() once, as its last layer, and "
                "return its output as it is",
            ),
            LEARNS: (
                0.0,
                "G(z, y) draws the digit asked for before any training step (read as y in <n>% of the samples, classifier-FID "
                "<n>, at the weights G's constructor gives): the check trains G from those weights with your train_step, and "
                "scores what the training teaches; G's constructor must build fresh layers (DCGAN's weights_init), not load "
                "trained weights",
            ),
        },
    },
    # a random half of the real digits mirrored before D sees them (a4's "a horizontal flip is fine", carried to digits,
    # where a mirrored 7 is no 7); and the whole batch turned upside down, which was told "D never judges the real batch"
    "real_digits_mirrored_at_random": {
        "cells": {"train_step": step().replace(
            "    loss_d = LOSS.d_loss(D(real, <REAL_Y>)".replace("<REAL_Y>", "labels"),
            "    real = torch.where((torch.rand(b) < 0.5)[:, None, None, None], real.flip(-1), real)\n"
            "    loss_d = LOSS.d_loss(D(real, labels)",
        )},
        "learning": False,
        "expected": {
            "test_step_shows_real_images_with_their_labels": (0.0, "<TURNED_REAL>"),
        },
    },
    "real_digits_upside_down": {
        "cells": {"train_step": step().replace(
            "    loss_d = LOSS.d_loss(D(real, labels)", "    real = real.flip(-2)\n    loss_d = LOSS.d_loss(D(real, labels)")},
        "learning": False,
        "expected": {
            "test_step_shows_real_images_with_their_labels": (0.0, "<TURNED_REAL>"),
        },
    },
    # the losses written by hand as log(sigmoid(x)) (the minimax D loss, the non-saturating G loss) instead of LOSS:
    # it learns in the check's short runs, but its losses are inf once D's logits are large
    "losses_as_log_of_sigmoid_by_hand": {
        "cells": {"train_step": step().replace(
            "    loss_d = LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake))\n",
            "    d_real, d_fake = torch.sigmoid(D(real, labels)), torch.sigmoid(D(fake.detach(), y_fake))\n"
            "    loss_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())\n",
        ).replace("    loss_g = LOSS.g_loss(D(fake, y_fake))\n", "    loss_g = -torch.log(torch.sigmoid(D(fake, y_fake))).mean()\n")},
        "learning": True,
        "expected": {
            LEARNS: (
                4.0,
                "G learns to draw the digit asked for, but train_step's losses are not finite when D is confident (D's "
                "logits in the hundreds, as a D that wins makes them): it returned inf and nan. log(sigmoid(x)) written by "
                "hand is log(0) = -inf in float32 once x is below about -88 (log(1 - sigmoid(x)) once x is above about 17), "
                "and one inf or nan step ruins every weight; use the task's LOSS.d_loss and LOSS.g_loss, which work on the logits",
            ),
        },
    },
    # the fake batch sized by the notebook's BATCH (16), not by the real batch the step is given (150 in the check):
    # too few fakes to hold every label, told as a size, not as randint's bounds
    "fake_batch_of_the_notebooks_batch_size": {
        "cells": {"train_step": step().replace("    z = torch.randn(b, nz)\n", "    z = torch.randn(BATCH, nz)\n").replace(
            "torch.randint(0, num_classes, (b,))", "torch.randint(0, num_classes, (BATCH,))")},
        "learning": False,
        "expected": {
            "test_step_draws_labels_for_the_fake_batch": (
                1.0,
                "in a step with 150 real images G is asked for 16 images only (never for label 7): the fake batch is as "
                "large as the real one train_step is given, B = real.shape[0], not a size fixed outside it; draw z = "
                "torch.randn(B, nz) and y_fake = torch.randint(0, num_classes, (B,))",
            ),
        },
    },
    # D's gradients cleared right after D's step (not before its backward()): G's backward() through D then fills
    # them, and D's next step applies them with its own. It learns all the same; the stale-gradient probe tells it
    "d_cleared_right_after_its_step": {
        "cells": {"train_step": step().replace(
            "    opt_d.zero_grad()\n    loss_d.backward()\n    opt_d.step()\n",
            "    loss_d.backward()\n    opt_d.step()\n    opt_d.zero_grad()\n",
        )},
        "learning": True,
        "expected": {
            LEARNS: (
                4.0,
                "G learns to draw the digit asked for, but train_step's opt_d.step() also applies gradients left over from "
                "before (backward() adds to .grad, and nothing clears D's between its last step and the next backward(); "
                "G's backward() reaches D's weights too, so a zero_grad() right after D's step is too early): call "
                "opt_d.zero_grad() right before each backward()",
            ),
        },
    },
    # lesson 08's forgotten .detach(): both optimizers cleared at the start, D's loss on the fake batch undetached
    # (retain_graph=True, so G's backward() runs), and G's step applies D's loss too; it learns all the same
    "detach_forgotten_both_cleared_first": {
        "cells": {"train_step": step().replace("    opt_d.zero_grad()\n", "").replace("    opt_g.zero_grad()\n", "").replace(
            "    b = real.shape[0]\n", "    opt_d.zero_grad()\n    opt_g.zero_grad()\n    b = real.shape[0]\n",
        ).replace("fake.detach()", "fake").replace("loss_d.backward()", "loss_d.backward(retain_graph=True)")},
        "learning": True,
        "expected": {
            LEARNS: (
                4.0,
                "G learns to draw the digit asked for, but train_step's opt_g.step() also applies the gradient of D's loss: "
                "D's loss reaches G through a fake batch that is not detached, and G's gradients are not cleared between "
                "D's backward() and G's (G's step then adds \"make the fakes look fake\" to \"make them look real\", and G "
                "learns to keep D undecided, D(G(z)) at 1/2, not to fool it: lesson 08's forgotten .detach()); give D "
                "fake.detach() in its step, or call opt_g.zero_grad() right before G's backward()",
            ),
        },
    },
    # one backward() of both losses with D left live for G's loss (the fake detached for D's): D's step applies G's
    # loss; the message says what one pass can carry, not which network (the first version blamed G and told it to detach)
    "one_backward_with_d_live_for_g": {
        "cells": {"train_step": CORRECT["one_backward_of_both_losses_d_frozen_for_g"]["train_step"].replace(
            "    D.requires_grad_(False)\n", "").replace("    D.requires_grad_(True)\n", "")},
        "learning": True,
        "expected": {
            LEARNS: (
                4.0,
                "G learns to draw the digit asked for, but train_step's one backward() of both losses feeds opt_d.step() and "
                "opt_g.step() and carries one network's loss into the other's weights: D's loss reaches G when the fake batch "
                "in D's loss is not detached, and G's loss reaches D's weights when D is not frozen while G's loss is "
                "computed; give D's loss fake.detach() and compute G's loss with D frozen (D.requires_grad_(False), then "
                "True again), or give each network its own backward() right after its optimizer's zero_grad()",
            ),
        },
    },
    # G's step first, both optimizers cleared at the start only: D's step applies G's loss gradient in D's weights too
    "g_step_first_both_cleared_first": {
        "cells": {"train_step": """
def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
    opt_g.zero_grad()
    opt_d.zero_grad()
    y_fake = torch.randint(0, num_classes, (real.shape[0],))
    fake = G(torch.randn(real.shape[0], nz), y_fake)
    loss_g = LOSS.g_loss(D(fake, y_fake))
    loss_g.backward()
    opt_g.step()
    loss_d = LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake))
    loss_d.backward()
    opt_d.step()
    return loss_d.item(), loss_g.item()
"""},
        "learning": True,
        "expected": {
            LEARNS: (
                4.0,
                "G learns to draw the digit asked for, but train_step's opt_d.step() also applies the gradient of G's loss: "
                "G's backward() reaches D's weights through D(fake, y_fake), and D's gradients are not cleared between it and "
                "D's backward() (D is then partly trained to help G fool it); call opt_d.zero_grad() right before D's "
                "backward()",
            ),
        },
    },
    # D's step judges the fake batch without .detach(): its backward() frees G's graph, and G's step raises
    "d_step_without_detach": {
        "cells": {"train_step": step().replace("fake.detach()", "fake")},
        "learning": True,
        "expected": {
            "test_step_shows_real_images_with_their_labels": (0.0, "<NO_DETACH>; <STEP_CALL>"),
            "test_step_draws_labels_for_the_fake_batch": (0.0, "<NO_DETACH>; <STEP_CALL>"),
            LEARNS: (0.0, "the grading run could not train the GAN: <NO_DETACH>"),
        },
    },
    # G makes its label embedding anew in every forward (random, never trained); the fake batch is detached for
    # G's step too, so G gets no gradient: the learning run stops after 5 steps
    "fresh_embedding_in_forward_g__fake_detached_for_g": {
        "cells": {
            "generator": FRESH_EMBEDDING_G,
            "train_step": step().replace("    fake = G(z, y_fake)\n", "    fake = G(z, y_fake).detach()\n").replace("D(fake.detach(), ", "D(fake, "),
        },
        "learning": True,
        "expected": {
            "test_generator_uses_labels_and_noise": (
                0.0,
                "G(z, y) makes `nn.Embedding(10, 16)` in forward: a layer made there is not registered in G, so it is new "
                "and random at every call (the same z and y twice in eval mode give outputs <n>% of the largest value "
                "apart) and never trained (opt_g never sees its weights); make it once in __init__ (self.embedding = "
                "nn.Embedding(10, 16)) and only call it in forward",
            ),
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: after 5 calls of train_step, G's parameters are still the "
                "initial ones: D judges G's images only detached from G (fake.detach(), or G run under torch.no_grad()), "
                "also in G's step, so loss_G has no gradient for G's parameters and opt_g.step() leaves them as they "
                "are: detach the fake batch in D's step only, and compute loss_G on D(fake, y_fake) with fake as G made it",
            ),
        },
    },
    # G's one-hot of y + 1 and D's of y - 1 (labels used with an offset); the real labels shifted by one,
    # (labels + 1) % num_classes (changed, not reordered); one label drawn for the whole fake batch
    "labels_offset_in_g_and_d__real_labels_shifted__one_label_per_batch": {
        "cells": {
            "generator": one_hot_g(one_hot="F.one_hot(y + 1, self.num_classes)"),
            "discriminator": channels_d(one_hot="F.one_hot(y - 1, self.num_classes)"),
            "train_step": step(y_fake="torch.randint(0, num_classes, (1,)).repeat(b)", real_y="(labels + 1) % num_classes"),
        },
        "learning": False,
        "expected": {
            "test_generator_output_shape": (0.0, "<G_PLUS_1>; expected (N, 1, 28, 28)"),
            "test_generator_output_range": (0.0, "<G_PLUS_1>"),
            "test_generator_uses_labels_and_noise": (0.0, "<G_PLUS_1>"),
            "test_discriminator_output": (0.0, "<D_MINUS_1>; expected one logit per image, (N,) or (N, 1)"),
            "test_discriminator_uses_labels": (0.0, "<D_MINUS_1>"),
            "test_step_shows_real_images_with_their_labels": (
                0.0,
                "D judges the real images with their labels changed, not reordered (150 of 150 images with a label that "
                "is not theirs: each label k comes as (k + 1) mod 10): pass each image's own label as it is, D(real, "
                "labels), with no arithmetic on the labels",
            ),
            "test_step_draws_labels_for_the_fake_batch": (
                1.0,
                "G is asked for one label for the whole fake batch (every one of its 150 images a <n>): draw one label "
                "per image, y_fake = torch.randint(0, num_classes, (B,)) with size (B,), so that every batch holds every digit",
            ),
        },
    },
    # the fake labels drawn from 0..num_classes (torch.randint's upper bound taken as inclusive, one too many):
    # the model solution's G cannot take label 10, and the learning run stops at its first step
    "fake_labels_up_to_num_classes": {
        "cells": {"train_step": step(y_fake="torch.randint(0, num_classes + 1, (b,))")},
        "learning": True,
        "expected": {
            "test_step_draws_labels_for_the_fake_batch": (1.0, "<LABEL_10>"),
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: calling `train_step` raised RuntimeError: Class values must be "
                "smaller than num_classes; train_step draws labels that G cannot take: <LABEL_10>",
            ),
        },
    },
    # the step calls G(y_fake, z), labels first (G takes (z, y), as the task says): with the grader's stand-in G
    # and with the student's own, the step raises deep inside G; the checks name the order
    "step_calls_g_with_the_labels_first": {
        "cells": {"train_step": step().replace("fake = G(z, y_fake)", "fake = G(y_fake, z)")},
        "learning": True,
        "expected": {
            "test_step_shows_real_images_with_their_labels": (0.0, "<G_LABELS_FIRST>"),
            "test_step_draws_labels_for_the_fake_batch": (0.0, "<G_LABELS_FIRST>"),
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: calling `train_step` raised RuntimeError: one_hot is only "
                "applicable to index tensor of type LongTensor; <G_LABELS_FIRST>",
            ),
        },
    },
    # the noise drawn as pytorch/examples' DCGAN draws it, (B, nz, 1, 1): the grader's stand-in G takes it, the
    # student's G (z joined to the one-hot along dim 1) raises in the learning run, which names the shape
    "noise_drawn_as_b_nz_1_1": {
        "cells": {"train_step": step().replace("z = torch.randn(b, nz)", "z = torch.randn(b, nz, 1, 1)")},
        "learning": True,
        "expected": {
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: calling `train_step` raised RuntimeError: Tensors must have "
                "same number of dimensions: got 4 and 2; train_step gives G noise z of shape (150, 100, 1, 1), while "
                "G(z, y) takes z (B, nz), as the task says: draw z = torch.randn(B, nz) (not torch.randn(B, nz, 1, 1): "
                "the given generator views z as (B, nz, 1, 1) itself)",
            ),
        },
    },
    # the fake labels drawn as floats (.float(), as for BCE's targets): the grader's stand-ins take them, the student's
    # G (F.one_hot) raises in the learning run, which names the dtype and the fix, not only one_hot's complaint
    "fake_labels_drawn_as_floats": {
        "cells": {"train_step": step(y_fake="torch.randint(0, num_classes, (b,)).float()")},
        "learning": True,
        "expected": {
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: calling `train_step` raised RuntimeError: one_hot is only "
                "applicable to index tensor of type LongTensor; train_step gives G and D their labels as floating-point "
                "numbers (float32), while G(z, y) and D(x, y) take labels int64 (N,), as the real batch's are (F.one_hot "
                "and nn.Embedding take integers only): keep them integers: the real batch's labels as they come, and "
                "y_fake = torch.randint(0, num_classes, (B,)) with no .float()",
            ),
        },
    },
    # the fake labels drawn as int32 (dtype=torch.int32): the grader's stand-ins take them, the model solution's G
    # (F.one_hot, which takes int64 only) raises in the learning run, which names the dtype and the fix
    "fake_labels_drawn_as_int32": {
        "cells": {"train_step": step(y_fake="torch.randint(0, num_classes, (b,), dtype=torch.int32)")},
        "learning": True,
        "expected": {
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: calling `train_step` raised RuntimeError: one_hot is only "
                "applicable to index tensor of type LongTensor; train_step gives G and D their labels as int32, while "
                "G(z, y) and D(x, y) take labels int64 (N,), as the real batch's are (F.one_hot takes int64 only): keep "
                "them int64: the real batch's labels as they come, and y_fake = torch.randint(0, num_classes, (B,)) with "
                "its default dtype (no dtype=torch.int32, .int() or torch.IntTensor)",
            ),
        },
    },
    # the fake labels cast to uint8 (.byte()): the fix names that cast, not int32's
    "fake_labels_cast_to_uint8": {
        "cells": {"train_step": step(y_fake="torch.randint(0, num_classes, (b,)).byte()")},
        "learning": True,
        "expected": {
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: calling `train_step` raised RuntimeError: one_hot is only "
                "applicable to index tensor of type LongTensor; train_step gives G and D their labels as uint8, while "
                "G(z, y) and D(x, y) take labels int64 (N,), as the real batch's are (F.one_hot takes int64 only): keep "
                "them int64: the real batch's labels as they come, and y_fake = torch.randint(0, num_classes, (B,)) with "
                "its default dtype (no dtype=torch.uint8, .byte() or torch.ByteTensor)",
            ),
        },
    },
    # PyTorch-GAN's cgan (eriklindernoren): MLPs, nn.Embedding(num_classes, num_classes) joined to z and to the
    # flattened image, widths from ngf and ndf, no convolution; sound otherwise, but at the grader's widths it learns
    # the labels slowly (30% and 36% in 500 steps), and the hint names the missing convolutions
    "pytorch_gan_cgan_mlps": {
        "cells": {
            "generator": '''
                class ConditionalGenerator(nn.Module):
                    def __init__(self, nz=100, ngf=64, num_classes=10):
                        super().__init__()
                        self.label_emb = nn.Embedding(num_classes, num_classes)

                        def block(in_feat, out_feat, normalize=True):
                            layers = [nn.Linear(in_feat, out_feat)]
                            if normalize:
                                layers.append(nn.BatchNorm1d(out_feat, 0.8))
                            layers.append(nn.LeakyReLU(0.2, inplace=True))
                            return layers

                        self.model = nn.Sequential(
                            *block(nz + num_classes, ngf * 2, normalize=False),
                            *block(ngf * 2, ngf * 4),
                            *block(ngf * 4, ngf * 8),
                            *block(ngf * 8, ngf * 16),
                            nn.Linear(ngf * 16, 28 * 28),
                            nn.Tanh(),
                        )

                    def forward(self, noise, labels):
                        gen_input = torch.cat((self.label_emb(labels), noise), -1)
                        img = self.model(gen_input)
                        return img.view(img.size(0), 1, 28, 28)
            ''',
            "discriminator": '''
                class ConditionalDiscriminator(nn.Module):
                    def __init__(self, ndf=64, num_classes=10):
                        super().__init__()
                        self.label_embedding = nn.Embedding(num_classes, num_classes)
                        self.model = nn.Sequential(
                            nn.Linear(num_classes + 28 * 28, ndf * 8), nn.LeakyReLU(0.2, inplace=True),
                            nn.Linear(ndf * 8, ndf * 8), nn.Dropout(0.4), nn.LeakyReLU(0.2, inplace=True),
                            nn.Linear(ndf * 8, ndf * 8), nn.Dropout(0.4), nn.LeakyReLU(0.2, inplace=True),
                            nn.Linear(ndf * 8, 1),
                        )

                    def forward(self, img, labels):
                        d_in = torch.cat((img.view(img.size(0), -1), self.label_embedding(labels)), -1)
                        return self.model(d_in)
            ''',
        },
        "learning": True,
        "expected": {
            LEARNS: (
                3.0,
                "in 2 seeded runs of 500 training steps on the digits, the course's digit classifier read G(z, y) as the "
                "digit y in <n>% and <n>% of the samples at best (chance: 10%); expected at least 50%, with a "
                "classifier-FID of at most <n>, in 2 of 3 runs: it learns the labels, but slowly or not in every run; "
                "G and D have no convolutional layer (an MLP on the flattened image, as in PyTorch-GAN's cgan), "
                "while the task makes the given DCGAN conditional: at the grader's widths such MLPs learn the labels far "
                "more slowly than the DCGAN's convolutions within the grading run's steps; build "
                "G and D from the given Generator and Discriminator (their .main), with the label joined to z and to the image",
            ),
        },
    },
    # D returns (N, 1) (allowed) and the step builds BCE's targets as (N,): the stand-ins return (N,), so only the
    # learning run, with the student's D, meets the shapes, and it names them with the fix
    "d_logits_n_by_1_against_bce_targets_n": {
        "cells": {
            "discriminator": N_BY_1_D,
            "train_step": BCE_STEP,
        },
        "learning": True,
        "expected": {
            LEARNS: (
                0.0,
                "the grading run could not train the GAN: calling `train_step` raised ValueError: Target size "
                "(torch.Size([32])) must be the same as input size (torch.Size([32, 1])): the targets and the logits "
                "differ in shape (a D that returns (N, 1) against targets (N,), or the reverse, or targets made for "
                "another batch size, torch.ones(64) for a batch of 16): build the targets from the logits, "
                "torch.ones_like(logits) and torch.zeros_like(logits), or have D return (N,) with .view(-1)",
            ),
        },
    },
    # the fake labels a slice of a fixed class sweep (the notebook's habit), the same at every step
    "fake_labels_a_slice_of_a_fixed_sweep": {
        "cells": {"train_step": "SWEEP = torch.arange(10).repeat(100)\n" + step(y_fake="SWEEP[:b]")},
        "learning": False,
        "expected": {
            "test_step_draws_labels_for_the_fake_batch": (1.0, (
                "G is asked for the same labels at every step (two calls of train_step on the same 12 real images both "
                "asked G for the labels 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1): <NOT_NEW>")),
        },
    },
    # G takes one-hot rows only (torch.cat([z, y])) and the step passes it F.one_hot(y_fake); D makes its label
    # plane anew in every forward
    "one_hot_only_g__fresh_label_plane_d": {
        "cells": {
            "generator": one_hot_g(one_hot="y"),
            "discriminator": FRESH_PLANE_D,
            "train_step": step().replace("fake = G(z, y_fake)", "fake = G(z, F.one_hot(y_fake, num_classes).float())"),
        },
        "learning": False,
        "expected": {
            "test_generator_output_shape": (0.0, "<G_ONE_HOT>; expected (N, 1, 28, 28)"),
            "test_generator_output_range": (0.0, "<G_ONE_HOT>"),
            "test_generator_uses_labels_and_noise": (0.0, "<G_ONE_HOT>"),
            "test_discriminator_uses_labels": (
                0.0,
                "D(x, y) makes `nn.Embedding(10, 784)` in forward: a layer made there is not registered in D, so it is "
                "new and random at every call (the same images and labels twice in eval mode give outputs <n>% of the "
                "largest value apart) and never trained (opt_d never sees its weights); make it once in __init__ "
                "(self.embedding = nn.Embedding(10, 784)) and only call it in forward",
            ),
        },
    },
    # the Keras conditional-GAN tutorial (Brownlee) ported: 128 channels in every layer whatever ngf and ndf say,
    # the label as a learned 7x7 map joined to G's features and a 28x28 map joined to D's input; sound otherwise,
    # but too large for the learning check's budget, which builds G and D small: it is told, not trained
    "keras_tutorial_port_ignores_ngf_and_ndf": {
        "cells": {
            "generator": '''
                class ConditionalGenerator(nn.Module):
                    def __init__(self, nz=100, ngf=64, num_classes=10):
                        super().__init__()
                        self.label_embedding = nn.Embedding(num_classes, 50)
                        self.label_dense = nn.Linear(50, 7 * 7)
                        self.latent_dense = nn.Linear(nz, 128 * 7 * 7)
                        self.net = nn.Sequential(
                            nn.ConvTranspose2d(128 + 1, 128, 4, 2, 1), nn.LeakyReLU(0.2),  # (N, 128, 14, 14)
                            nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),  # (N, 128, 28, 28)
                            nn.Conv2d(128, 1, 7, padding=3), nn.Tanh(),
                        )

                    def forward(self, z, y):
                        label_map = self.label_dense(self.label_embedding(y)).view(-1, 1, 7, 7)
                        h = F.leaky_relu(self.latent_dense(z), 0.2).view(-1, 128, 7, 7)
                        return self.net(torch.cat([h, label_map], dim=1))
            ''',
            "discriminator": '''
                class ConditionalDiscriminator(nn.Module):
                    def __init__(self, ndf=64, num_classes=10):
                        super().__init__()
                        self.label_embedding = nn.Embedding(num_classes, 50)
                        self.label_dense = nn.Linear(50, 28 * 28)
                        self.net = nn.Sequential(
                            nn.Conv2d(1 + 1, 128, 3, 2, 1), nn.LeakyReLU(0.2),  # (N, 128, 14, 14)
                            nn.Conv2d(128, 128, 3, 2, 1), nn.LeakyReLU(0.2),  # (N, 128, 7, 7)
                            nn.Flatten(), nn.Dropout(0.4), nn.Linear(128 * 7 * 7, 1),
                        )

                    def forward(self, x, y):
                        label_map = self.label_dense(self.label_embedding(y)).view(-1, 1, 28, 28)
                        return self.net(torch.cat([x, label_map], dim=1)).view(-1)
            ''',
        },
        "learning": True,
        "expected": {
            "test_generator_output_shape": (1.0, (
                "<G_WIDTH>: the checks build it at ngf = 16, and the learning check trains G and D only there: it does "
                "not train a network whose widths ignore ngf")),
            "test_discriminator_output": (1.0, (
                "<D_WIDTH>: the checks build it at ndf = 16, and the learning check trains G and D only there: it does "
                "not train a network whose widths ignore ndf")),
            LEARNS: (
                0.0,
                "the grading run does not train G and D: <G_WIDTH>; <D_WIDTH>; the learning check trains G and D at ngf = "
                "ndf = 16 to fit its time limit, and a network that ignores its width argument would train at a width of "
                "its own",
            ),
        },
    },
}

NAMED = {  # messages that several checks give, written once
    "<TWINS>": (
        "in 2 seeded runs of 500 training steps on the digits, the course's digit classifier read G(z, y) as the digit y "
        "in <n>% and <n>% of the samples at best, but G's drawings vary too little with z: at the last checkpoint 100% "
        "and 100% of its 36 samples per label have a twin (another sample of their label, from other z, that is the same "
        "drawing), where at most 50% may; expected new images for new z, in 2 of 3 runs"
    ),
    "<G_NO_Z_GRADIENT>": (
        "G(z, y)'s output has no gradient to the z it is given (exactly 0): it draws noise of its own, or passes z "
        "through a step (a sign, a rounding, a comparison) that picks between a few fixed images; forward(z) must map "
        "z itself, so that a fixed z draws a fixed image and each z its own"
    ),
    "<G_IGNORES_Z>": (
        "G(z, y) draws the same image for every z of a label (other z with the same labels give the same output): it "
        "ignores z, so it has one drawing per digit; pass z through G together with the label"
    ),
    "<TURNED_REAL>": (
        "train_step shows D real digits mirrored or turned (<n> of the images D judged are one of the 150 real images "
        "flipped or rotated): a mirrored or turned digit is not the digit its label names, so D learns that such "
        "digits are real; pass `real` to D as it is, D(real, labels)"
    ),
    "<G_WIDTH>": (
        "`ConditionalGenerator(ngf=16)` and `ConditionalGenerator(ngf=32)` both have 1,169,336 parameters: its layers "
        "ignore the `ngf` argument (fixed numbers or a global such as NGF in its place?); build every width from `ngf`"
    ),
    "<D_WIDTH>": (
        "`ConditionalDiscriminator(ndf=16)` and `ConditionalDiscriminator(ndf=32)` both have 196,773 parameters: its "
        "layers ignore the `ndf` argument (fixed numbers or a global such as NDF in its place?); build every width from `ndf`"
    ),
    "<G_LABELS_FIRST>": (
        "train_step calls G with its arguments in the other order, G(y, z) (its first argument an integer tensor (150,), "
        "its second (150, 100)): G is called G(z, y), the noise first and the labels second, as the task says: call "
        "G(z, y_fake) (with forward(self, z, y) in your G)"
    ),
    "<NOT_NEW>": (
        "labels that do not change from step to step (drawn once outside train_step, a fixed pattern such as "
        "torch.arange(B) % num_classes or a slice of the notebook's sweep, or drawn from a generator seeded anew at every "
        "call) are not new labels; draw them inside train_step at every step, y_fake = torch.randint(0, num_classes, "
        "(B,)), as the task asks"
    ),
    "<NO_DETACH>": (
        "calling `train_step` raised RuntimeError: Trying to backward through the graph a second time: a backward() "
        "went through a graph that an earlier backward() had already freed. Usually D's step judged the fake batch "
        "without .detach(), so D's backward() freed G's part of the graph before G's step: give D `fake.detach()` in "
        "its step (or compute the fake batch anew for G's step); or one loss went backward twice (call backward() "
        "once per step, on the sum of its terms)"
    ),
    "<STEP_CALL>": (
        "train_step(G, D, opt_g, opt_d, real, labels, nz, num_classes) must make one step with any G(z, y) and D(x, y) "
        "(the grader's stand-ins here), Adam optimizers and a real batch of <n> digits"
    ),
    "<LIBRARY_G>": (
        "`ConditionalGenerator(nz=100, ngf=16, num_classes=10)` is built from reference.models.conditional.ConditionalGenerator, "
        "the course library's conditional DCGAN (lesson 7), which holds what this assignment asks you to write: write it "
        "yourself in the notebook, from the given DCGAN (reference.models.dcgan)"
    ),
    "<LIBRARY_D>": (
        "`ConditionalDiscriminator(ndf=16, num_classes=10)` is built from reference.models.conditional.ProjectionDiscriminator, "
        "the course library's conditional DCGAN (lesson 7), which holds what this assignment asks you to write: write it "
        "yourself in the notebook, from the given DCGAN (reference.models.dcgan)"
    ),
    "<G9>": (
        "G(z, y) takes labels 0 but not labels 9 (for 9s it raises RuntimeError: Class values must be smaller than "
        "num_classes. (in `ConditionalGenerator.forward`)): its one-hot or embedding has fewer than num_classes = 10 "
        "entries, while the labels run 0..9: size it with num_classes, F.one_hot(y, num_classes) or nn.Embedding(num_classes, d)"
    ),
    "<D0>": (
        "D(x, y) takes a batch that holds a 9 but not a batch of 0s (for 0s it raises in `main.0` (Conv2d(11, 16, "
        "kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)): it takes 11 channels but gets (N, 2, 28, 28); "
        "its in_channels must be the channels that reach it (2): where the label joins, that is the size of z or of the "
        "image's channels or features plus the label's (num_classes = 10 for a one-hot)): F.one_hot(y) without "
        "num_classes makes the one-hot as long as the batch's largest label plus one, so its size changes from batch to "
        "batch; pass num_classes: F.one_hot(y, num_classes)"
    ),
    "<G_PLUS_1>": (
        "G(z, y) takes the labels -1..8 but not 9 (for 9s it raises RuntimeError: Class values must be smaller than "
        "num_classes. (in `ConditionalGenerator.forward`)): it shifts y by +1 before its one-hot or embedding, as "
        "F.one_hot(y + 1, num_classes) does; the labels run 0..9 and are used as given: F.one_hot(y, num_classes)"
    ),
    "<D_MINUS_1>": (
        "D(x, y) takes the labels 1..10 but not 0 (for 0s it raises RuntimeError: Class values must be non-negative. "
        "(in `ConditionalDiscriminator.forward`)): it shifts y by -1 before its one-hot or embedding, as F.one_hot(y - 1, "
        "num_classes) does; the labels run 0..9 and are used as given: F.one_hot(y, num_classes)"
    ),
    "<LABEL_10>": (
        "in a step with 150 real images G is asked for label 10, while the labels run 0..9: torch.randint(low, high, "
        "size) draws from low to high - 1, so torch.randint(0, num_classes, (B,)) draws exactly the labels 0..num_classes-1"
    ),
    "<G_ONE_HOT>": (
        "G(z, y) raises RuntimeError: Tensors must have same number of dimensions: got 2 and 1 (in "
        "`ConditionalGenerator.forward`) when y holds integer labels (N,), and runs when y holds one-hot rows (N, 10): "
        "it expects y one-hot, but G is given the labels as integers, y int64 (N,) in 0..9 (the grader calls it so, as "
        "the task says): make the one-hot inside forward, F.one_hot(y, num_classes).float() (or embed y with "
        "nn.Embedding(num_classes, d)), and pass train_step's integer labels to G as they are"
    ),
    "<G_IGNORES_Y>": (
        "G(z, y) draws the same images whatever the labels (the same z with y = 0..7 and with y = 5..12 mod 10 give the "
        "same output): G ignores y, so it cannot draw the digit it is asked for; join the label to z, e.g. "
        "torch.cat([z, F.one_hot(y, num_classes).float()], dim=1), into a first layer that takes nz + num_classes"
    ),
    "<D_IGNORES_Y>": (
        "D(x, y) gives the same logits whatever the labels (the same images with y = 0..7 and with y = 5..12 mod 10): D "
        "ignores y, so a real 3 labelled 7 looks as real to it as a real 7, and G has no reason to draw the digit it is "
        "asked for; join the label to D's input (one-hot maps as extra channels) or to its features before a nonlinear "
        "layer, or add a projection term"
    ),
}


# ---------------------------------------------------------------------------------------------
# Grading, once per notebook
# ---------------------------------------------------------------------------------------------


def cells_of(name: str) -> dict[str, str]:
    cells = CORRECT[name] if name in CORRECT else WRONG[name]["cells"]
    return {grade_id: textwrap.dedent(source).strip("\n") + "\n" for grade_id, source in cells.items()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """graded(name) -> {check: (points, message)} of a submission ("solution", "student", a key of CORRECT or
    WRONG), graded once for the module (WRONG ones without the learning check unless they name it)."""
    done: dict[str, dict] = {}

    def grade(name: str) -> dict[str, tuple[float, str]]:
        if name not in done:
            if name == "solution":
                path, only = SOLUTION, None
            elif name == "student":
                path, only = STUDENT, None
            else:
                path = notebook_with_cells(SOLUTION, tmp_path_factory.mktemp(name), cells_of(name))
                only = None if name in CORRECT or WRONG[name]["learning"] else [c for c in CHECKS if c != LEARNS]
            sandboxed = name in ("solution", "student") or name in TAMPERING
            done[name] = grade_notebook(path, A, ROOT, only=only) if sandboxed else graded_here(path, A, only=only)
        return done[name]

    return grade


TAMPERING = {"returns_stored_digits_when_graded"}  # graded in the sandbox only: it acts otherwise there
SANDBOX_SAMPLE = ["one_hot_of_9__one_hot_without_num_classes__fake_labels_are_real", "fake_labels_drawn_as_floats", "d_step_without_detach",
                  "losses_as_log_of_sigmoid_by_hand"]  # the last: inf and nan cross the proxy as the losses the step returned


@pytest.mark.parametrize("name", SANDBOX_SAMPLE)
def test_the_sandbox_grades_like_this_process(graded, tmp_path, name):
    """What the other tests grade in this process scores the same in the sandbox, messages included:
    an error of the student's step or networks inside the grading run is named the same way both ways."""
    path = notebook_with_cells(SOLUTION, tmp_path, cells_of(name))
    assert grade_notebook(path, A, ROOT, only=[LEARNS]) == {LEARNS: graded(name)[LEARNS]}


def matches(got: tuple[float, str], want: tuple[float, str]) -> bool:
    """Exact points; the exact message, where each <n> stands for a number (FIDs, shares and bounds that
    depend on the CPU's arithmetic are checked by their place in the sentence, not their digits)."""
    if got[0] != want[0]:
        return False
    number = r"-?[0-9.]+(?:e[+-]?[0-9]+)?"
    pattern = "".join(number if part == "<n>" else re.escape(part) for part in re.split(r"(<n>)", want[1]))
    return re.fullmatch(pattern, got[1]) is not None


def expected_of(name: str) -> dict[str, tuple[float, str]]:
    """Every graded check's expected (points, message) for WRONG[name]: full marks where it names none."""
    spec = WRONG[name]
    graded_checks = CHECKS if spec["learning"] else [c for c in CHECKS if c != LEARNS]
    want = {}
    for check in graded_checks:
        points, message = spec["expected"].get(check, (FULL[check], ""))
        for key, text in NAMED.items():
            message = message.replace(key, text)
        want[check] = (points, message)
    return want


def test_solution_scores_full_marks(graded):
    assert graded("solution") == OK


def test_unmodified_student_version_scores_zero_everywhere(graded):
    def todo(name: str) -> str:
        return f"`{name}` is not implemented yet: it raises NotImplementedError (replace that line with your code)"

    g, d, s = todo("ConditionalGenerator.__init__"), todo("ConditionalDiscriminator.__init__"), todo("train_step")
    assert graded("student") == {
        "test_generator_output_shape": (0.0, g),
        "test_generator_output_range": (0.0, g),
        "test_generator_uses_labels_and_noise": (0.0, g),
        "test_discriminator_output": (0.0, d),
        "test_discriminator_uses_labels": (0.0, d),
        "test_step_shows_real_images_with_their_labels": (0.0, s),
        "test_step_draws_labels_for_the_fake_batch": (0.0, s),
        LEARNS: (0.0, g),
    }


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_variants_score_full_marks(graded, name):
    assert graded(name) == OK


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_submissions_get_exact_partial_scores(graded, name):
    got, want = graded(name), expected_of(name)
    assert set(got) == set(want)
    assert all(matches(got[c], want[c]) for c in want), {c: got[c] for c in want if not matches(got[c], want[c])}


def test_every_check_fails_on_some_wrong_submission():
    """Each check is shown to take points from at least one wrong submission above."""
    failing = {check for spec in WRONG.values() for check, (points, _) in spec["expected"].items() if points < FULL[check]}
    assert failing == set(CHECKS)


# ---------------------------------------------------------------------------------------------
# The learning verdict on made-up runs: every tier, and when the runs stop
# ---------------------------------------------------------------------------------------------


def made_up(agreement: float, fid_share: float, floor: float = 100.0, twins: float = 0.0, narrow: float = 1.0) -> dict:
    """A run whose best class agreement is `agreement`, best FID `fid_share` of the floor, and whose last samples
    have a twin for the share `twins` of them, their narrowest label spreading `narrow` of real digits'."""
    return {"seed": 0, "fids": [(0, 3.0 * floor), (300, fid_share * floor)], "agreement": [(0, 0.1), (300, agreement)],
            "twins": [(0, 1.0), (300, twins)], "narrow": [(0, 0.0), (300, narrow)], "copies": 0.0, "seconds": 1.0,
            "best_fid": fid_share * floor, "best_agreement": agreement, "floor": floor}


@pytest.mark.parametrize(
    "runs, outcome",
    [
        ([(0.86, 0.13), (0.83, 0.15)], "pass"),
        ([(0.86, 0.13), (0.12, 0.3), (0.9, 0.2)], "pass"),
        ([(0.86, 0.13), (0.12, 0.3), (0.11, 0.2)], "slow"),  # learns the labels on one seed of three
        ([(0.3, 0.2), (0.2, 0.2)], "slow"),  # above AGREE_SLOW, below AGREE
        ([(0.9, 0.9), (0.9, 0.9)], "slow"),  # reads as y, but the samples are far from the digits: not a pass
        ([(0.9, 0.2, 100.0, 1.0), (0.9, 0.2, 100.0, 1.0)], "collapsed"),  # the digits asked for, one drawing per label
        ([(0.9, 0.2, 100.0, 1.0), (0.9, 0.2, 100.0, 0.5), (0.9, 0.2, 100.0, 0.0)], "pass"),  # up to TWIN_SHARE have twins
        ([(0.9, 0.2, 100.0, 1.0), (0.9, 0.2, 100.0, 0.0), (0.9, 0.2, 100.0, 0.6)], "collapsed"),
        # one run varied, one too narrow, one slow (found by session 37's review: 2 points, below the 3 a slow run gets)
        ([(0.7, 0.2, 100.0, 0.0, 0.5), (0.7, 0.2, 100.0, 0.0, 0.07), (0.45, 0.5)], "slow"),
        # half the labels drawn as one image each: no twins above the share, but a label that does not vary
        ([(0.9, 0.2, 100.0, 0.5, 0.0), (0.9, 0.2, 100.0, 0.5, 0.0)], "collapsed"),
        ([(0.9, 0.2, 100.0, 0.0, 0.08), (0.9, 0.2, 100.0, 0.0, 0.3)], "pass"),
        ([(0.1, 0.3), (0.12, 0.5)], "digits"),
        ([(0.1, 0.95), (0.11, 1.2)], "fail"),
    ],
)
def test_learning_verdict_tiers(runs, outcome):
    made = [made_up(*run) for run in runs]
    assert checks.learning_verdict(made)[0] == outcome
    assert [checks.decided(made[: k + 1]) for k in range(len(made))] == [False] * (len(made) - 1) + [True]


def test_learning_verdict_wording():
    outcome, told = checks.learning_verdict([made_up(0.1, 0.95), made_up(0.11, 1.2)])
    assert told == (
        "in 2 seeded runs of 500 training steps on the digits, the course's digit classifier read G(z, y) as the digit y "
        "in 10% and 11% of the samples at best (chance: 10%); expected at least 50%, with a classifier-FID of at most 70, "
        "in 2 of 3 runs; its classifier-FID went from 300 (untrained) to at best 95, 120"
    )


def test_a_generator_ignoring_y_agrees_exactly_by_chance():
    """The samples' layout makes a G that ignores y score exactly 10%: the same z with every label."""
    z, y = checks.sample_inputs(0)
    assert torch.equal(z[: checks.PER_CLASS], z[-checks.PER_CLASS :]) and torch.bincount(y).tolist() == [checks.PER_CLASS] * 10
    reads = torch.randint(0, 10, (checks.PER_CLASS,), generator=torch.Generator().manual_seed(0)).repeat(10)  # a digit per z
    assert float((reads == y).double().mean()) == pytest.approx(0.1)


# ---------------------------------------------------------------------------------------------
# The probes on their own
# ---------------------------------------------------------------------------------------------


def test_step_calls_records_what_g_and_d_were_called_with():
    G, D = probes_a6.stand_in_generator(8, 4), probes_a6.stand_in_discriminator(4)

    def step_fn(G, D, opt_g, opt_d, real, labels, nz, num_classes):
        y = torch.randint(0, num_classes, (len(real),))
        fake = G(torch.randn(len(real), nz), y=y)  # y by keyword: recorded all the same
        loss = D(real, labels).mean() - D(fake.detach(), y).mean() - D(fake, y).mean()
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        return loss.item(), 0.0

    real, labels = torch.rand(6, 1, 28, 28) * 2 - 1, torch.arange(6)
    record = probes_a6.step_calls(step_fn, G, D, real, labels, nz=8, seed=0)
    assert len(record["g_calls"]) == 1 and len(record["d_calls"]) == 3
    (g_call,) = record["g_calls"]
    assert [t.shape for t in g_call["inputs"]] == [torch.Size([6, 8]), torch.Size([6])] and g_call["output"].shape == (6, 1, 28, 28)
    assert torch.equal(record["d_calls"][0]["inputs"][0], real) and torch.equal(record["d_calls"][0]["inputs"][1], labels)
    assert torch.equal(record["d_calls"][1]["inputs"][0], g_call["output"]) and torch.equal(record["d_calls"][1]["inputs"][1], g_call["inputs"][1])
    assert record["returned"]["type"] == "tuple"
    assert g_call["tracked"] == [False, False] and record["d_calls"][1]["tracked"] == [False, False]  # fake.detach()
    assert record["d_calls"][2]["tracked"] == [True, False]  # G's images as G made them


@pytest.mark.parametrize("ending", ["nn.Sigmoid()", "nn.ReLU(), nn.Tanh()"])
def test_a_generator_that_is_never_negative_is_told_to_end_with_the_tanh(ending):
    """A Sigmoid for the Tanh, or a ReLU before it: the range check (in a kernel here) names both."""
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(one_hot_g(layers=f"[:-1].extend([{ending}])")), namespace)
    points, message = run_check(checks.test_generator_output_range, LocalSubmission(namespace))
    assert points == 0.0 and message.startswith("G's output stays in [0, ") and message.endswith(END_WITH_TANH), message


ZERO_LAST_G = one_hot_g().replace("self.apply(weights_init)", "self.apply(weights_init)\n        nn.init.zeros_(self.main[-2].weight)  # blank images at first")
ZERO_LAST_D = "self.apply(weights_init)\n        nn.init.zeros_(self.main[-1].weight)  # every logit 0 at first"


@pytest.mark.parametrize("source, check, expected", [
    (ZERO_LAST_G, "test_generator_output_range", (1.0, "")),
    (channels_d().replace("self.apply(weights_init)", ZERO_LAST_D), "test_discriminator_output", (2.0, "")),
    (channels_d(out=".sigmoid()").replace("self.apply(weights_init)", ZERO_LAST_D), "test_discriminator_output", (1.0, (
        "D's outputs stay in [<n>, <n>] even with its weights scaled up 25 times: it returns probabilities (a final "
        "sigmoid); return logits, without nn.Sigmoid(): LOSS (reference.losses) takes logits"))),
], ids=["g_last_conv_zero", "d_last_conv_zero", "d_last_conv_zero_then_sigmoid"])
def test_a_last_layer_initialised_at_zero_is_judged_by_the_range_training_gives_it(source, check, expected):
    """A last layer whose weights start at zero makes one constant output (every pixel tanh(0) = 0, every logit 0)
    that no scaling moves; the first step moves those weights, so the range checks measure the network jittered:
    a Tanh's range and logits pass, a final sigmoid is still named."""
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "Generator": Generator,
                 "Discriminator": Discriminator, "weights_init": weights_init}
    exec(textwrap.dedent(source), namespace)
    assert matches(run_check(getattr(checks, check), LocalSubmission(namespace)), expected)


LABEL_ENCODINGS = {  # (G, D) sources for a kernel's namespace: how each network takes y
    "number": (
        one_hot_g(classes="1", one_hot="(y.float() / 9).unsqueeze(1)"),
        CHANNELS_D.replace("<CLASSES>", "1").replace("<ONE_HOT>", "y.float().unsqueeze(1)").replace("<OUT>", ""),
    ),
    "category": (
        one_hot_g(),
        channels_d(),
    ),
    "embedding": (
        one_hot_g(classes="24", one_hot="self.embed(y)").replace(
            "self.num_classes = num_classes", "self.num_classes = num_classes\n        self.embed = nn.Embedding(num_classes, 24)"),
        textwrap.dedent(CORRECT["product_g_projection_d"]["discriminator"]),
    ),
}


@pytest.mark.parametrize("encoding", LABEL_ENCODINGS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_label_taken_as_a_number_is_told_apart_from_a_category(encoding, seed):
    """The learning check's hint for a G or D given y (or y / 9) as one number, for G and D built with several
    seeds; one-hot and embedded labels, in G and in D, are never taken for numbers."""
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "Generator": Generator,
                 "Discriminator": Discriminator, "weights_init": weights_init}
    for source in LABEL_ENCODINGS[encoding]:
        exec(textwrap.dedent(source), namespace)
    sub = LocalSubmission(namespace)
    G, D = checks.generator(sub, seed=seed), checks.discriminator(sub, seed=seed)
    number_g = checks.reads_the_label_as_a_number(sub, G, checks.noise(8))
    number_d = checks.reads_the_label_as_a_number(sub, D, checks.images(8))
    assert (number_g, number_d) == ((True, True) if encoding == "number" else (False, False))
    hint = checks.label_number_fault(sub, G, D)
    assert (hint is not None and hint.startswith("G seems to take the label as a number")) == (encoding == "number")


STEP_PARTS = {
    "d_clear": "    opt_d.zero_grad()\n",
    "d_step": "    loss_d = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake.detach(), y)).mean()\n    loss_d.backward()\n    opt_d.step()\n",
    "g_clear": "    opt_g.zero_grad()\n",
    "g_step": "    loss_g = F.softplus(-D(fake, y)).mean()\n    loss_g.backward()\n    opt_g.step()\n",
}


def step_source(order: list[str], **replace: str) -> str:
    head = ("def train_step(G, D, opt_g, opt_d, real, labels, nz=100, num_classes=10):\n"
            "    y = torch.randint(0, num_classes, (len(real),))\n    fake = G(torch.randn(len(real), nz), y)\n")
    return head + "".join(replace.get(part, STEP_PARTS[part]) for part in order) + "    return 0.0, 0.0\n"


CLOSURE_STEP = """
def train_step(G, D, opt_g, opt_d, real, labels, nz=100, num_classes=10):
    y = torch.randint(0, num_classes, (len(real),))
    z = torch.randn(len(real), nz)

    def g_closure():
        opt_g.zero_grad()
        loss = F.softplus(-D(G(z, y), y)).mean()
        loss.backward()
        return loss

    opt_g.step(g_closure)
    fake = G(z, y).detach()

    def d_closure():
        opt_d.zero_grad()
        loss = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake, y)).mean()
        loss.backward()
        return loss

    opt_d.step(d_closure)
    return 0.0, 0.0
"""
AUTOGRAD_STEP = """
def train_step(G, D, opt_g, opt_d, real, labels, nz=100, num_classes=10):
    y = torch.randint(0, num_classes, (len(real),))
    fake = G(torch.randn(len(real), nz), y)
    loss_d = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake.detach(), y)).mean()
    for p, g in zip(D.parameters(), torch.autograd.grad(loss_d, list(D.parameters()))):
        p.grad = g
    opt_d.step()
    loss_g = F.softplus(-D(fake, y)).mean()
    for p, g in zip(G.parameters(), torch.autograd.grad(loss_g, list(G.parameters()))):
        p.grad = g
    opt_g.step()
    return 0.0, 0.0
"""


@pytest.mark.parametrize(
    "source, stale",
    [
        (step_source(["d_clear", "d_step", "g_clear", "g_step"]), {"G": False, "D": False}),
        (step_source(["d_step", "g_step", "d_clear", "g_clear"]), {"G": False, "D": False}),  # both cleared after the steps
        # D cleared right after its step: G's backward() then fills D's gradients, which D's next step applies
        (step_source(["d_step", "d_clear", "g_step", "g_clear"]), {"G": False, "D": True}),
        (step_source(["d_clear", "d_step", "g_clear", "g_step"], g_clear="    G.zero_grad(set_to_none=False)\n"), {"G": False, "D": False}),
        (step_source(["d_clear", "d_step", "g_step"]), {"G": True, "D": False}),
        (step_source(["d_step", "g_clear", "g_step"]), {"G": False, "D": True}),
        (step_source(["d_step", "g_step"]), {"G": True, "D": True}),
        (CLOSURE_STEP, {"G": False, "D": False}),  # G's step first, each optimizer stepped with a closure that clears
        (AUTOGRAD_STEP, {"G": False, "D": False}),  # .grad assigned from torch.autograd.grad: nothing to clear
        # losses summed over the batch, cleared before each backward(): gradients 150 times the mean's, none stale
        (step_source(["d_clear", "d_step", "g_clear", "g_step"]).replace(".mean()", ".sum()"), {"G": False, "D": False}),
        (step_source(["d_step", "d_clear", "g_step", "g_clear"]).replace(".mean()", ".sum()"), {"G": False, "D": True}),
        # G never cleared, its gradients clipped with error_if_nonfinite=True (which made a nan-marking probe raise)
        (step_source(["d_clear", "d_step", "g_step"], g_step="    loss_g = F.softplus(-D(fake, y)).mean()\n    loss_g.backward()\n"
                     "    torch.nn.utils.clip_grad_norm_(G.parameters(), 0.01, error_if_nonfinite=True)\n    opt_g.step()\n"),
         {"G": True, "D": False}),
        # G first, each network cleared by multiplying its gradients by zero (nan times 0 is nan: that was taken for stale)
        (step_source(["g_step", "d_step"], g_step="    for q in G.parameters():\n        if q.grad is not None:\n"
                     "            q.grad.mul_(0)\n" + STEP_PARTS["g_step"], d_step="    for q in D.parameters():\n        if q.grad is not None:\n"
                     "            q.grad.mul_(0)\n" + STEP_PARTS["d_step"]), {"G": False, "D": False}),
        # per-element clipping (clip_grad_value_) sets the large elements to +-c: the ledger reads the others (both were 5/5)
        (step_source(["d_step", "d_clear", "g_step", "g_clear"], d_step=STEP_PARTS["d_step"].replace(
            "    opt_d.step()", "    torch.nn.utils.clip_grad_value_(D.parameters(), 0.01)\n    opt_d.step()")), {"G": False, "D": True}),
        (step_source(["d_clear", "d_step", "g_step"], g_step=STEP_PARTS["g_step"].replace(
            "    opt_g.step()", "    torch.nn.utils.clip_grad_value_(G.parameters(), 0.01)\n    opt_g.step()")), {"G": True, "D": False}),
        (step_source(["d_clear", "d_step", "g_clear", "g_step"], g_step=STEP_PARTS["g_step"].replace(
            "    opt_g.step()", "    torch.nn.utils.clip_grad_value_(G.parameters(), 0.01)\n    opt_g.step()")), {"G": False, "D": False}),
    ],
    ids=["cleared_before_backward", "cleared_after_the_steps", "d_cleared_before_g_backward", "module_zero_grad_to_zeros",
         "g_never_cleared", "d_never_cleared", "neither", "closures_g_first", "autograd_grad_assigned", "summed_losses",
         "summed_losses_d_cleared_before_g_backward", "g_never_cleared_clipped_with_error_if_nonfinite",
         "g_first_cleared_by_multiplying_by_zero", "d_cleared_before_g_backward_clipped_by_value", "g_never_cleared_clipped_by_value",
         "cleared_before_backward_clipped_by_value"],
)
def test_stale_gradients_finds_an_optimizer_that_steps_on_the_last_steps_gradients(source, stale):
    """An optimizer whose gradients are never cleared applies every earlier step's gradients too; clearing before
    backward() or after step(), through the optimizer or the module, in a closure, or assigning .grad from
    torch.autograd.grad is right (the last two were taken for stale by hooks on the arriving gradients)."""
    import torch.nn.functional as F

    namespace = {"torch": torch, "F": F}
    exec(source, namespace)
    G, D = probes_a6.stand_in_generator(100, 8), probes_a6.stand_in_discriminator(8)
    real, labels = torch.rand(16, 1, 28, 28) * 2 - 1, torch.arange(16) % 10
    assert probes_a6.stale_gradients(namespace["train_step"], G, D, real, labels, nz=100) == stale


UNDETACHED_D_STEP = ("    loss_d = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake, y)).mean()\n"
                     "    loss_d.backward(retain_graph=True)\n    opt_d.step()\n")
HINGE = {"d_step": "    loss_d = F.relu(1 - D(real, labels)).mean() + F.relu(1 + D(fake, y)).mean()\n"
                   "    loss_d.backward(retain_graph=True)\n    opt_d.step()\n",
         "g_step": "    loss_g = -D(fake, y).mean()\n    loss_g.backward()\n    opt_g.step()\n"}
LEAST_SQUARES = {"d_step": "    loss_d = ((D(real, labels) - 0.9) ** 2).mean() + (D(fake.detach(), y) ** 2).mean()\n"
                           "    loss_d.backward()\n    opt_d.step()\n",
                 "g_step": "    loss_g = ((D(fake, y) - 0.9) ** 2).mean()\n    loss_g.backward()\n    opt_g.step()\n"}
R1_D_STEP = ("    real.requires_grad_()\n    out = D(real, labels)\n"
             "    slope, = torch.autograd.grad(out.sum(), real, create_graph=True)\n"
             "    loss_d = F.softplus(-out).mean() + F.softplus(D(fake.detach(), y)).mean() + slope.pow(2).sum([1, 2, 3]).mean()\n"
             "    loss_d.backward()\n    opt_d.step()\n")
ONE_BACKWARD = ("def train_step(G, D, opt_g, opt_d, real, labels, nz=100, num_classes=10):\n"
                "    y = torch.randint(0, num_classes, (len(real),))\n    fake = G(torch.randn(len(real), nz), y)\n"
                "    opt_d.zero_grad()\n    opt_g.zero_grad()\n"
                "    loss_d = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake, y)).mean()\n"
                "    (loss_d + F.softplus(-D(fake, y)).mean()).backward()\n    opt_d.step()\n    opt_g.step()\n    return 0.0, 0.0\n")


CROSSED_CASES = {  # id: (train_step's source, what crossed_gradients finds)
    "d_first": (step_source(["d_clear", "d_step", "g_clear", "g_step"]), {"G": False, "D": False}),
    "g_first": (step_source(["g_clear", "g_step", "d_clear", "d_step"]), {"G": False, "D": False}),
    # D's loss on the fake batch undetached: harmless when G's gradients are cleared before G's backward()
    "undetached_g_cleared_before_backward": (step_source(["d_clear", "d_step", "g_clear", "g_step"], d_step=UNDETACHED_D_STEP),
                                             {"G": False, "D": False}),
    "undetached_both_cleared_first": (step_source(["d_clear", "g_clear", "d_step", "g_step"], d_step=UNDETACHED_D_STEP),
                                      {"G": True, "D": False}),
    "g_first_both_cleared_first": (step_source(["d_clear", "g_clear", "g_step", "d_step"]), {"G": False, "D": True}),
    # one backward() of both losses, both steps after it: which loss reached the other network cannot be told there
    "one_backward_of_both_losses": (ONE_BACKWARD, {"G": False, "D": False, "one_pass": True}),
    "autograd_grad_assigned": (AUTOGRAD_STEP, {"G": False, "D": False}),
    "closures_g_first": (CLOSURE_STEP, {"G": False, "D": False}),
    # written for logits only
    "hinge_undetached_both_cleared_first": (step_source(["d_clear", "g_clear", "d_step", "g_step"], **HINGE), {"G": True, "D": False}),
    "least_squares_smoothed": (step_source(["d_clear", "d_step", "g_clear", "g_step"], **LEAST_SQUARES), {"G": False, "D": False}),
    "least_squares_g_first_both_cleared_first": (step_source(["d_clear", "g_clear", "g_step", "d_step"], **LEAST_SQUARES),
                                                 {"G": False, "D": True}),
    "r1_penalty_on_real_requiring_grad": (step_source(["d_clear", "d_step", "g_clear", "g_step"], d_step=R1_D_STEP),
                                          {"G": False, "D": False}),
}
# one backward() of both losses, each reaching only its own network's weights (D frozen for G's loss, the fake detached
# for D's): a correct simultaneous step that the ledger alone called crossed (4/5); and the same without freezing D,
# whose step then applies G's loss (crossed)
ONE_BACKWARD_HEAD = ("def train_step(G, D, opt_g, opt_d, real, labels, nz=100, num_classes=10):\n"
                     "    y = torch.randint(0, num_classes, (len(real),))\n    fake = G(torch.randn(len(real), nz), y)\n"
                     "    opt_d.zero_grad()\n    opt_g.zero_grad()\n"
                     "    loss_d = F.softplus(-D(real, labels)).mean() + F.softplus(D(fake.detach(), y)).mean()\n")
ONE_BACKWARD_TAIL = "    (loss_d + loss_g).backward()\n    opt_d.step()\n    opt_g.step()\n    return loss_d.item(), loss_g.item()\n"
ONE_BACKWARD_FROZEN = (ONE_BACKWARD_HEAD + "    D.requires_grad_(False)\n    loss_g = F.softplus(-D(fake, y)).mean()\n"
                       "    D.requires_grad_(True)\n" + ONE_BACKWARD_TAIL)
ONE_BACKWARD_FROZEN_BY_LOOP = (ONE_BACKWARD_HEAD + "    for p in D.parameters():\n        p.requires_grad = False\n"
                               "    loss_g = F.softplus(-D(fake, y)).mean()\n    for p in D.parameters():\n        p.requires_grad = True\n"
                               + ONE_BACKWARD_TAIL.replace("opt_d.step()\n    opt_g.step()", "opt_g.step()\n    opt_d.step()"))
ONE_BACKWARD_D_LIVE = ONE_BACKWARD_HEAD + "    loss_g = F.softplus(-D(fake, y)).mean()\n" + ONE_BACKWARD_TAIL
CROSSED_CASES.update({
    "one_backward_d_frozen_for_g": (ONE_BACKWARD_FROZEN, {"G": False, "D": False}),
    "one_backward_d_frozen_by_a_loop_g_stepped_first": (ONE_BACKWARD_FROZEN_BY_LOOP, {"G": False, "D": False}),
    "one_backward_d_live_for_g": (ONE_BACKWARD_D_LIVE, {"G": False, "D": False, "one_pass": True}),
    # D called through D.forward for G's loss, which runs no hook of D's own (D's loss calls D as usual): its layers'
    # hooks still see the live D on the fake batch
    "one_backward_d_live_for_g_by_forward": (ONE_BACKWARD_HEAD + "    loss_g = F.softplus(-D.forward(fake, y)).mean()\n"
                                             + ONE_BACKWARD_TAIL, {"G": False, "D": False, "one_pass": True}),
    "one_backward_d_frozen_for_g_by_forward": (ONE_BACKWARD_FROZEN.replace("D(", "D.forward("), {"G": False, "D": False}),
    # found by session 33's red team: G's loss on a live copy of D, whose gradients reach no step (right: the copy
    # carries D's hooks, and was taken for D); two backward() calls before both steps with D live for G's loss (D's
    # step applies G's pass beside its own: D is named, not the network that steps second); and both losses crossing
    "one_backward_g_loss_on_a_copy_of_d": (ONE_BACKWARD_HEAD.replace("    y = ", "    import copy\n    y = ")
                                           + "    loss_g = F.softplus(-copy.deepcopy(D)(fake, y)).mean()\n" + ONE_BACKWARD_TAIL,
                                           {"G": False, "D": False}),
    "two_backwards_then_both_steps_d_live_for_g": (ONE_BACKWARD_HEAD + "    loss_g = F.softplus(-D(fake, y)).mean()\n"
                                                   "    loss_d.backward()\n    loss_g.backward()\n    opt_d.step()\n    opt_g.step()\n"
                                                   "    return loss_d.item(), loss_g.item()\n", {"G": False, "D": True}),
    # optimizers of the step's own (built at each call; one over both networks): their steps are seen too
    "own_optimizers_one_backward_d_live": (ONE_BACKWARD_D_LIVE.replace(
        "    opt_d.zero_grad()\n    opt_g.zero_grad()\n",
        "    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))\n"
        "    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))\n    opt_d.zero_grad()\n    opt_g.zero_grad()\n"),
        {"G": False, "D": False, "one_pass": True}),
    "own_optimizers_d_first": (step_source(["d_clear", "d_step", "g_clear", "g_step"]).replace(
        "    y = ", "    opt_d, opt_g = torch.optim.SGD(D.parameters(), lr=0.01), torch.optim.SGD(G.parameters(), lr=0.01)\n    y = ", 1),
        {"G": False, "D": False}),
    "one_optimizer_over_both_d_frozen_for_g": (ONE_BACKWARD_FROZEN.replace(
        "    opt_d.zero_grad()\n    opt_g.zero_grad()\n",
        "    both = torch.optim.SGD(list(G.parameters()) + list(D.parameters()), lr=0.01)\n    both.zero_grad()\n").replace(
        "    opt_d.step()\n    opt_g.step()\n", "    both.step()\n"), {"G": False, "D": False}),
    "both_losses_crossing": (ONE_BACKWARD_HEAD.replace("fake.detach()", "fake") + "    loss_g = F.softplus(-D(fake, y)).mean()\n"
                             "    loss_g.backward(retain_graph=True)\n    loss_d.backward()\n    opt_d.step()\n    opt_g.step()\n"
                             "    return loss_d.item(), loss_g.item()\n", {"G": True, "D": True}),
})
HEAD = ("def train_step(G, D, opt_g, opt_d, real, labels, nz=100, num_classes=10):\n"
        "    y = torch.randint(0, num_classes, (len(real),))\n    fake = G(torch.randn(len(real), nz), y)\n")
D_LOSS, G_LOSS = "F.softplus(-D(real, labels)).mean() + F.softplus(D(fake.detach(), y)).mean()", "F.softplus(-D(fake, y)).mean()"
UNDETACHED = D_LOSS.replace("fake.detach()", "fake")
# found by the red team of session 32: correct steps the NaN-marking probe called crossed, and crossed or stale steps
# that hid from it by checking for nan (anomaly mode, clip_grad_norm_(error_if_nonfinite=True), a GradScaler)
CROSSED_CASES.update({
    "labels_flipped_d_says_1_for_fake": (HEAD + (
        "    bce = F.binary_cross_entropy_with_logits\n"
        "    d_real, d_fake = D(real, labels), D(fake.detach(), y)\n"
        "    loss_d = bce(d_real, torch.zeros_like(d_real)) + bce(d_fake, torch.ones_like(d_fake))\n"
        "    opt_d.zero_grad()\n    loss_d.backward()\n    opt_d.step()\n"
        "    out = D(fake, y)\n    loss_g = bce(out, torch.zeros_like(out))\n"
        "    opt_g.zero_grad()\n    loss_g.backward()\n    opt_g.step()\n    return 0.0, 0.0\n"), {"G": False, "D": False}),
    "least_squares_targets_minus_1_1_0": (HEAD + (
        "    loss_d = 0.5 * ((D(real, labels) - 1) ** 2).mean() + 0.5 * ((D(fake.detach(), y) + 1) ** 2).mean()\n"
        "    opt_d.zero_grad()\n    loss_d.backward()\n    opt_d.step()\n"
        "    loss_g = 0.5 * (D(fake, y) ** 2).mean()\n"
        "    opt_g.zero_grad()\n    loss_g.backward()\n    opt_g.step()\n    return 0.0, 0.0\n"), {"G": False, "D": False}),
    "r1_penalty_on_shifted_real_images": (HEAD + (
        "    real.requires_grad_(True)\n    d_real = D(torch.roll(real, shifts=(1, -1), dims=(2, 3)), labels)\n"
        "    slope, = torch.autograd.grad(d_real.sum(), real, create_graph=True)\n"
        "    loss_d = F.softplus(-d_real).mean() + F.softplus(D(fake.detach(), y)).mean() + 5 * slope.pow(2).sum([1, 2, 3]).mean()\n"
        "    opt_d.zero_grad()\n    loss_d.backward()\n    opt_d.step()\n"
        f"    loss_g = {G_LOSS}\n    opt_g.zero_grad()\n    loss_g.backward()\n    opt_g.step()\n    return 0.0, 0.0\n"),
        {"G": False, "D": False}),
    "g_first_cleared_by_multiplying_by_zero": (HEAD + (
        "    for q in G.parameters():\n        if q.grad is not None:\n            q.grad.mul_(0)\n"
        f"    loss_g = {G_LOSS}\n    loss_g.backward()\n    opt_g.step()\n"
        "    for q in D.parameters():\n        if q.grad is not None:\n            q.grad.mul_(0)\n"
        f"    loss_d = {D_LOSS}\n    loss_d.backward()\n    opt_d.step()\n    return 0.0, 0.0\n"), {"G": False, "D": False}),
    "undetached_both_cleared_first_in_anomaly_mode": (HEAD + (
        "    with torch.autograd.detect_anomaly():\n        opt_d.zero_grad()\n        opt_g.zero_grad()\n"
        f"        loss_d = {UNDETACHED}\n        loss_d.backward(retain_graph=True)\n        opt_d.step()\n"
        f"        loss_g = {G_LOSS}\n        loss_g.backward()\n        opt_g.step()\n    return 0.0, 0.0\n"),
        {"G": True, "D": False}),
    "undetached_both_cleared_first_clipped_with_error_if_nonfinite": (HEAD + (
        "    opt_d.zero_grad()\n    opt_g.zero_grad()\n"
        f"    loss_d = {UNDETACHED}\n    loss_d.backward(retain_graph=True)\n"
        "    torch.nn.utils.clip_grad_norm_(D.parameters(), 0.01, error_if_nonfinite=True)\n    opt_d.step()\n"
        f"    loss_g = {G_LOSS}\n    loss_g.backward()\n"
        "    torch.nn.utils.clip_grad_norm_(G.parameters(), 0.01, error_if_nonfinite=True)\n    opt_g.step()\n    return 0.0, 0.0\n"),
        {"G": True, "D": False}),
    "undetached_both_cleared_first_with_grad_scalers": (HEAD + (
        "    scale_d, scale_g = torch.amp.GradScaler('cpu'), torch.amp.GradScaler('cpu')\n"
        "    opt_d.zero_grad()\n    opt_g.zero_grad()\n"
        f"    loss_d = {UNDETACHED}\n    scale_d.scale(loss_d).backward(retain_graph=True)\n"
        "    scale_d.step(opt_d)\n    scale_d.update()\n"
        f"    loss_g = {G_LOSS}\n    scale_g.scale(loss_g).backward()\n    scale_g.step(opt_g)\n    scale_g.update()\n"
        "    return 0.0, 0.0\n"), {"G": True, "D": False}),
})
PROBABILITY_CASES = list(CROSSED_CASES)[:6]  # the softplus steps, rewritten as nn.BCELoss-style losses on probabilities


def on_probabilities(source: str) -> str:
    """A step of STEP_PARTS's softplus losses on logits rewritten for a D that returns probabilities (a final sigmoid)."""
    source = re.sub(r"F\.softplus\(-(D\([^()]*\))\)\.mean\(\)", r"F.binary_cross_entropy(\1, torch.ones(len(real)))", source)
    source = re.sub(r"F\.softplus\((D\([^()]*(?:\(\))?[^()]*\))\)\.mean\(\)", r"F.binary_cross_entropy(\1, torch.zeros(len(real)))", source)
    assert "softplus" not in source
    return source


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")  # the anomaly-mode case's own warning
@pytest.mark.parametrize(
    "name, form",
    [(name, {}) for name in CROSSED_CASES] + [(name, {"column": True}) for name in CROSSED_CASES]
    + [(name, {"probabilities": True}) for name in PROBABILITY_CASES],
    ids=[f"{name}-logits" for name in CROSSED_CASES] + [f"{name}-column" for name in CROSSED_CASES]
    + [f"{name}-probabilities" for name in PROBABILITY_CASES],
)
def test_crossed_gradients_finds_a_step_that_applies_the_other_player_s_loss(name, form):
    """G's step must not apply D's loss (lesson 08's forgotten .detach() with G's gradients not cleared in between), nor
    D's step G's loss; an undetached fake batch whose gradient is cleared before G's backward() is right, as are
    hinge and least-squares losses (smoothed targets too), a penalty on real images that require grad, gradients
    assigned from torch.autograd.grad and closures; for a D that returns logits, a column, or probabilities."""
    import torch.nn.functional as F

    source, crossed = CROSSED_CASES[name]
    namespace = {"torch": torch, "F": F}
    exec(on_probabilities(source) if form.get("probabilities") else source, namespace)
    real, labels = torch.rand(16, 1, 28, 28) * 2 - 1, torch.arange(16) % 10
    assert probes_a6.crossed_gradients(namespace["train_step"], real, labels, nz=100, ngf=8, ndf=8, **form) == crossed

def test_a_run_that_fails_because_g_is_never_cleared_is_told_so():
    """The learning check's hint, for sound G and D (one-hot labels) and a step without opt_g.zero_grad(): the
    label checks find nothing, the stale-gradient probe names the fault and the fix."""
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "Generator": Generator,
                 "Discriminator": Discriminator, "weights_init": weights_init}
    for source in (*LABEL_ENCODINGS["category"], step_source(["d_clear", "d_step", "g_step"])):
        exec(textwrap.dedent(source), namespace)
    assert checks.learning_hint(LocalSubmission(namespace)) == (
        "train_step's opt_g.step() also applies gradients left over from before (backward() adds to .grad, and nothing "
        "clears G's between its last step and the next backward()): call opt_g.zero_grad() right before each backward()"
    )


@pytest.mark.parametrize("noise, told", [
    ("torch.rand(len(real), nz)", "train_step draws G's noise uniform in [0, 1) (torch.rand)"),
    ("torch.randn(len(real), nz).abs()", "train_step gives G noise of one sign only"),
    ("torch.randn(len(real), nz)", None),
])
def test_a_run_that_fails_because_of_the_noise_it_draws_is_told_so(noise, told):
    """torch.rand for torch.randn (uniform noise in [0, 1)): the run did not learn, and the hint was the generic
    "compare G, D and train_step with the requirements"; the recorded z names it."""
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "Generator": Generator,
                 "Discriminator": Discriminator, "weights_init": weights_init}
    step = step_source(["d_clear", "d_step", "g_clear", "g_step"]).replace("torch.randn(len(real), nz)", noise)
    for source in (*LABEL_ENCODINGS["category"], step):
        exec(textwrap.dedent(source), namespace)
    hint = checks.learning_hint(LocalSubmission(namespace))
    assert hint.startswith(told) if told else hint.startswith("compare G, D and train_step"), hint


LOG_SIGMOID_STEP = step_source(
    ["d_clear", "d_step", "g_clear", "g_step"],
    d_step="    loss_d = -(torch.log(torch.sigmoid(D(real, labels))).mean() + torch.log(1 - torch.sigmoid(D(fake.detach(), y))).mean())\n"
           "    loss_d.backward()\n    opt_d.step()\n",
    g_step="    loss_g = -torch.log(torch.sigmoid(D(fake, y))).mean()\n    loss_g.backward()\n    opt_g.step()\n")


@pytest.mark.parametrize("returned", ["loss_d.item(), loss_g.item()", "loss_d.detach().numpy(), loss_g.detach().numpy()",
                                      "{'loss_D': loss_d, 'loss_G': loss_g}", "loss_d.detach(), loss_g.detach()",
                                      "torch.stack([loss_d, loss_g]).detach()", "None"])
def test_confident_losses_are_read_however_the_step_returns_them(returned):
    """The losses of a step that writes log(sigmoid(x)) by hand are inf or nan once D is confident, whether it returns
    floats, 0-d numpy arrays (which were read as no number, so the fault went unseen), tensors, a dict or one tensor
    of both; returned in no form read as numbers, or not at all, the weights the step made nan tell it (both were
    5/5). The task's losses on the logits keep both finite."""
    import torch.nn.functional as F

    from reference.grading.submission import LocalSubmission

    real, labels = torch.rand(16, 1, 28, 28) * 2 - 1, torch.arange(16) % 10
    for source, finite in ((LOG_SIGMOID_STEP, False), (step_source(["d_clear", "d_step", "g_clear", "g_step"]), True)):
        namespace = {"torch": torch, "F": F}
        exec(source.replace("    return 0.0, 0.0\n", f"    return {returned}\n"), namespace)
        sub = LocalSubmission({"train_step": namespace["train_step"]})
        assert (checks.unstable_loss_fault(sub) is None) == finite, returned
        found = probes_a6.confident_step_losses(namespace["train_step"], real, labels, nz=100, ngf=8, ndf=8)
        assert found["error"] is None and found["finite"] == finite, found
        if returned != "None":
            assert len(found["losses"]) == 2, found


def kernel_submission(*sources: str):
    """A LocalSubmission of a kernel namespace with the notebook's imports and `sources` run in it."""
    import torch.nn.functional as F

    from reference.grading.submission import LocalSubmission
    from reference.losses import get_loss

    namespace = {"torch": torch, "nn": torch.nn, "F": F, "Generator": Generator, "Discriminator": Discriminator,
                 "weights_init": weights_init, "LOSS": get_loss("non-saturating"), "NZ": 100, "NUM_CLASSES": 10}
    for source in sources:
        exec(textwrap.dedent(source), namespace)
    return LocalSubmission(namespace)


def test_a_run_that_fails_because_d_judges_real_and_fake_in_one_batch_is_told_so():
    """The model solution's G and D with a step that calls D once on torch.cat([real, fake]) did not learn at all
    (agreement 12% and 11%, FID far above the target): the hint names the mixed batch, which the task warns about."""
    one_batch = step().replace(
        "    loss_d = LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake))\n",
        "    logits = D(torch.cat([real, fake.detach()]), torch.cat([labels, y_fake]))\n    loss_d = LOSS.d_loss(logits[:b], logits[b:])\n",
    )
    assert "torch.cat([real" in one_batch
    assert checks.learning_hint(kernel_submission(*LABEL_ENCODINGS["category"], one_batch)) == (
        "train_step judges the real and the fake images in one call of D (as D(torch.cat([real, fake]), ...)): D's "
        "BatchNorm then normalises them with the statistics of the mixed batch, which is known to derail DCGAN training "
        "(the model solution's G and D did not learn at all with such a step); call D on the real batch and on the fake "
        "batch separately, as dcgan_step does"
    )


PROJECTION_DEFAULT_INIT_D = CORRECT["product_g_projection_d"]["discriminator"].replace(
    "                nn.init.zeros_(self.embed.weight)  # the projection starts at zero: D starts as the plain DCGAN's\n", "")


def test_a_projection_with_the_default_embedding_init_is_told_its_logits_start_large():
    """A projection D whose nn.Embedding keeps its N(0, 1) init starts with logits of about 20 on real digits
    (sound designs: 0.1-0.5); with a conditional-BatchNorm G it measured 11% and 10% agreement, the same with its
    embedding at zero 77% and 63%. The hint names the embedding and the fix; sound Ds (their embeddings N(0, 1)
    too, before an MLP head) get none."""
    assert "zeros_" not in PROJECTION_DEFAULT_INIT_D
    sub = kernel_submission(LABEL_ENCODINGS["category"][0], PROJECTION_DEFAULT_INIT_D, step())
    hint = checks.learning_hint(sub)
    assert re.fullmatch(
        r"D's logits start far from 0: as built, in training mode, it gives the real digits logits of \d+ on average "
        r"\(a DCGAN D starts below 1\), so the losses start saturated and the GAN learns little from them: `embed` keeps "
        r"nn.Embedding's default N\(0, 1\) init \(weight std 1.00; with D's embeddings at zero the logits are small\), "
        r"so in a term like the projection <embed\(y\), phi\(x\)> each label's row, of length about sqrt\(1024\) = 32, "
        r"swamps the rest of D; start it at zero after weights_init, nn.init.zeros_\(self.embed.weight\), or small, "
        r"nn.init.normal_\(self.embed.weight, 0.0, 0.02\)", hint), hint
    for design in ("product_g_projection_d", "embedding_g_features_mlp_d"):
        sound = kernel_submission(LABEL_ENCODINGS["category"][0], CORRECT[design]["discriminator"])
        assert checks.initial_logits_fault(sound, checks.discriminator(sound)) is None, design


@pytest.mark.parametrize(
    "edit, told",
    [
        (None, None),
        (("LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake))", "LOSS.d_loss(D(fake.detach(), y_fake), D(real, labels))"),
         "train_step's D step makes D score the real images lower against the fakes"),
        (("loss_g = LOSS.g_loss(D(fake, y_fake))", "loss_g = F.binary_cross_entropy_with_logits(D(fake, y_fake), torch.zeros(b))"),
         "train_step's G step makes D score G's images lower"),
    ],
    ids=["right", "d_loss_arguments_swapped", "g_trained_toward_fake"],
)
def test_a_step_whose_losses_pull_the_wrong_way_is_named_by_the_learning_hint(edit, told):
    """d_loss(D(fake), D(real)) and a G step toward label 0 made runs that did not learn, with the generic hint; one
    step of each on the stand-ins shows which way it moves D's margin and D's score of G's images."""
    source = step() if edit is None else step().replace(*edit)
    assert edit is None or source != step()
    sub = kernel_submission(LABEL_ENCODINGS["category"][0], source)
    fault = checks.direction_fault(sub)
    assert (fault is None) if told is None else fault.startswith(told), fault


def test_a_d_that_mixes_labels_across_the_batch_keeps_one_of_the_label_points():
    """F.one_hot(y).t().reshape(N, C): image i gets other images' labels. Its logits still change with y, differently for
    different images, so it kept both points; it is now told that logit i is not D(x[i], y[i]) (1 of 2), and the
    learning check's hint says the same."""
    mixed = channels_d(one_hot="F.one_hot(y, self.num_classes).t().reshape(len(y), self.num_classes)")
    sub = kernel_submission(LABEL_ENCODINGS["category"][0], mixed, step())
    points, message = run_check(checks.test_discriminator_uses_labels, sub)
    assert points == 1.0 and message.startswith("in eval mode, D's logits for a batch in reverse order are not its logits reversed (by "), message
    assert message.endswith("with no transpose or reshape across the batch")
    assert checks.learning_hint(sub) == message
    assert run_check(checks.test_discriminator_uses_labels, kernel_submission(LABEL_ENCODINGS["category"][0], channels_d(), step())) == (2.0, "")
    # a batch statistic of D's features (ProGAN's minibatch standard deviation) is no mixing of labels: not charged
    minibatch_std = channels_d(out=" + 0.1 * x.std(0, correction=0).mean()")
    assert run_check(checks.test_discriminator_uses_labels, kernel_submission(LABEL_ENCODINGS["category"][0], minibatch_std, step())) == (2.0, "")


def test_a_label_joined_to_the_features_as_a_one_hot_is_told_it_is_too_faint():
    """Design 2 with the one-hot (or an embedding of 10) joined to D's 1,024 flattened features stayed at chance in
    the grading runs (agreement 9-12%, seeds 0 and 1) and was told only the requirements; it is told now that the
    label is too faint beside the features, with the fixes. The same design with an embedding of 50 learns, and
    is told nothing."""
    sound = CORRECT["embedding_g_features_mlp_d"]["discriminator"]
    faint = sound.replace("self.embed(y)", "F.one_hot(y, 10).float()").replace("+ embed_dim", "+ num_classes")
    sub = kernel_submission(LABEL_ENCODINGS["category"][0], faint, step())
    assert checks.learning_hint(sub) == (
        "the label reaches D only as 10 numbers beside 1024 image features, joined in `head.0` (Linear(in_features=1034, "
        "out_features=256, bias=True)): too faint a signal for D to learn the labels within the grading run's steps (D built "
        "so stayed at chance); give the label more weight: an nn.Embedding(num_classes, 50) joined there, the label as image "
        "channels (design 1), or the projection discriminator (design 3)")
    for design in ("embedding_g_features_mlp_d", "product_g_projection_d"):
        fine = kernel_submission(LABEL_ENCODINGS["category"][0], CORRECT[design]["discriminator"])
        assert checks.faint_label_fault(fine, checks.discriminator(fine)) is None, design
    # the one-hot through a Linear layer of its own first: that layer ran before the join, and was the only one judged
    own_path = faint.replace("self.embed = nn.Embedding(num_classes, embed_dim)",
                             "self.embed = nn.Sequential(nn.Linear(num_classes, num_classes), nn.LeakyReLU(0.2))").replace(
        "F.one_hot(y, 10).float()", "self.embed(F.one_hot(y, 10).float())")
    assert own_path != faint
    sub = kernel_submission(LABEL_ENCODINGS["category"][0], own_path, step())
    assert checks.faint_label_fault(sub, checks.discriminator(sub)).startswith("the label reaches D only as 10 numbers beside 1024")


def test_the_trace_sees_layers_wrapped_by_parametrizations():
    """torch.nn.utils.parametrizations.spectral_norm gives each conv a child (its parametrizations), so the trace,
    which records layers without children, saw no conv in such a D and hinted "D has no convolutional layer"."""
    wrapped = channels_d().replace("self.apply(weights_init)", """self.apply(weights_init)
        for k, m in enumerate(self.main):
            if isinstance(m, nn.Conv2d):
                self.main[k] = nn.utils.parametrizations.spectral_norm(m)""")
    sub = kernel_submission(LABEL_ENCODINGS["category"][0], wrapped, step())
    run = checks.traced(sub, checks.discriminator(sub), [checks.images(4), torch.arange(4)])
    assert any(c["type"] == "Conv2d" for c in run["calls"]) and not any("Spectral" in c["type"] for c in run["calls"]), run["calls"]
    assert checks.no_convolution_fault(sub, checks.generator(sub), checks.discriminator(sub)) is None


def test_batchnorm_in_d_s_mlp_head_is_named_by_the_learning_hint():
    """PyTorch-GAN's habit, BatchNorm1d before D's last layer, normalises the all-real and the all-fake batch apart
    right before the logit (measured with the solution's G: 51%, 11%, 10% agreement against 54%, 28%, 27% without
    it); the hint names the layer and the fix. Sound Ds get no such hint."""
    sound = CORRECT["embedding_g_features_mlp_d"]["discriminator"]
    normed = sound.replace("nn.Linear(ndf * 4 * 4 * 4 + embed_dim, 256), ", "nn.Linear(ndf * 4 * 4 * 4 + embed_dim, 256), nn.BatchNorm1d(256), ")
    assert normed != sound
    sub = kernel_submission(LABEL_ENCODINGS["category"][0], normed, step())
    hint = checks.learning_hint(sub)
    assert hint.startswith("D normalises its head's features with `head.1` (BatchNorm1d(256") and hint.endswith(
        "keep BatchNorm2d in the convolutions and none in the MLP head"), hint
    for design in ("embedding_g_features_mlp_d", "product_g_projection_d"):
        fine = kernel_submission(LABEL_ENCODINGS["category"][0], CORRECT[design]["discriminator"])
        assert checks.head_batchnorm_fault(fine, checks.discriminator(fine)) is None, design


@pytest.mark.parametrize(
    "check, source, message",
    [
        (
            "test_generator_uses_labels_and_noise",
            one_hot_g(classes="16", one_hot="self.parts[0](y)").replace(
                "self.num_classes = num_classes", "self.num_classes = num_classes\n        self.parts = [nn.Embedding(num_classes, 16)]"),
            "G(z, y) calls `nn.Embedding(10, 16)`, which is not registered in G (kept in a plain Python list or dict, or "
            "made outside the class), so opt_g never sees its weights and it is never trained; assign it in __init__ as "
            "an attribute (self.embedding = nn.Embedding(10, 16)), or keep such layers in nn.ModuleList",
        ),
        (
            "test_discriminator_uses_labels",
            channels_d(one_hot="F.embedding(y, torch.randn(self.num_classes, self.num_classes))"),
            "D(x, y)'s label path is random at every call: with torch's random numbers drawn alike, what changing the "
            "labels does to its logits turns from one call to the next (weights drawn in forward, as in F.embedding(y, "
            "torch.randn(...))), so D cannot learn what a label means; make its weights once in __init__, as layers or "
            "nn.Parameter (dropout or noise in forward are fine: they leave the label's effect in place)",
        ),
    ],
    ids=["g_embedding_in_a_plain_list", "d_weights_drawn_in_forward"],
)
def test_a_network_that_is_not_a_fixed_function_of_its_inputs_is_told_why(check, source, message):
    """Layers a network runs but does not register, and weights drawn anew in forward, are named before the
    label-dependence measures (which such networks can pass by chance)."""
    got = run_check(getattr(checks, check), kernel_submission(*LABEL_ENCODINGS["category"], source))
    assert matches(got, (0.0, message)), got


def test_trace_names_the_layer_that_raised():
    class Wrong(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(12, 4)

        def forward(self, z, y):
            return self.fc(torch.cat([z, torch.nn.functional.one_hot(y)], 1).float())

    run = probes_a6.trace(Wrong(), [torch.zeros(3, 8), torch.tensor([0, 1, 2])])
    assert run["error"]["type"] == "RuntimeError" and run["calls"][run["failed"]]["in_features"] == 12
    assert run["calls"][run["failed"]]["in"] == [3, 11]


def test_train_and_sample_reports_a_network_the_step_never_updates():
    G, D = probes_a6.stand_in_generator(8, 4), probes_a6.stand_in_discriminator(4)
    data = torch.randint(0, 256, (20, 1, 28, 28), dtype=torch.uint8)

    def d_only(G, D, opt_g, opt_d, real, labels, nz, num_classes):
        loss = D(real, labels).mean()
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()

    z, y = torch.randn(10, 8), torch.arange(10)
    result = probes_a6.train_and_sample(d_only, G, D, data, torch.arange(20) % 10, z, y, nz=8, steps=10, every=5)
    assert result["problem"] == {"code": "generator_unchanged", "step": 5}


def test_a_run_made_in_parts_is_the_run_made_in_one_call():
    """start_training + continue_training (the check's early-stopping run) train exactly as train_and_sample."""

    def step(G, D, opt_g, opt_d, real, labels, nz, num_classes):
        fake_y = torch.randint(0, num_classes, (len(real),))
        fake = G(torch.randn(len(real), nz), fake_y)
        loss_d = torch.nn.functional.softplus(-D(real, labels)).mean() + torch.nn.functional.softplus(D(fake.detach(), fake_y)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = torch.nn.functional.softplus(-D(fake, fake_y)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    data, labels = torch.randint(0, 256, (20, 1, 28, 28), dtype=torch.uint8), torch.arange(20) % 10
    z, y = torch.randn(10, 8), torch.arange(10)

    def pair():
        torch.manual_seed(0)
        return probes_a6.stand_in_generator(8, 4), probes_a6.stand_in_discriminator(4)

    whole = probes_a6.train_and_sample(step, *pair(), data, labels, z, y, nz=8, steps=6, every=2, seed=3)
    begun = probes_a6.start_training(step, *pair(), data, labels, z, y, nz=8, steps=6, seed=3)
    parts = [begun["samples"]] + [probes_a6.continue_training(begun["run"], k)["samples"] for k in (2, 6)]
    assert whole["checkpoints"] == [0, 2, 4, 6] and whole["problem"] is None
    assert all(torch.equal(a, b) for a, b in zip(parts, [whole["samples"][0], whole["samples"][1], whole["samples"][3]]))
    assert probes_a6.continue_training(None, 8)["problem"] == {"code": "run"}


# ---------------------------------------------------------------------------------------------
# The notebook in a kernel: with MNIST and without it, and "Run All" on the student version
# ---------------------------------------------------------------------------------------------


def kernel_env(**extra: str) -> dict[str, str]:
    """A student's kernel in smoke mode: this environment (the module's classifier cache too), without
    pytest's or nbgrader's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "NBGRADER_EXECUTION"}
    env.update(MPLBACKEND="Agg", GAN_COURSE_SMOKE="1", **extra)
    return env


def run_in_kernel(path: Path, workdir: Path, upto: str | None = None, **env: str) -> list:
    """Execute `path`'s cells up to and including the one with grade_id `upto` in a fresh kernel; raises at the
    first cell that raises, as "Run All" stops there."""
    nb = nbformat.read(path, as_version=4)
    if upto is not None:
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        nb.cells = nb.cells[: ids.index(upto) + 1]
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False, resources={"metadata": {"path": str(workdir)}})
    client.execute(env=kernel_env(**env))
    return nb.cells


def printed(cells, grade_id: str) -> str:
    cell = next(c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.needs_shared_mnist
def test_the_solution_runs_in_smoke_mode_on_mnist(tmp_path, shared_data):
    """With MNIST in the data folder the notebook trains on it; the agreement run prints every checkpoint."""
    cells = run_in_kernel(SOLUTION, tmp_path, upto="agreement_run", GAN_COURSE_DATA=str(shared_data))
    assert printed(cells, "data").startswith("data: mnist, images (60000, 1, 28, 28) torch.uint8, labels (60000,) torch.int64")
    assert re.search(r"^step 30: loss_D [\d.]+, loss_G [\d.]+$", printed(cells, "train"), re.M)
    lines = printed(cells, "agreement_run").splitlines()
    assert [int(re.match(r"step +(\d+):", line)[1]) for line in lines[:-1]] == [0, 20]
    assert all(re.fullmatch(r"step +\d+: class agreement +\d+%, classifier-FID +\d+ \(floor \d+\), samples with a twin +\d+%, "
                            r"narrowest label's spread \d+\.\d\d", line) for line in lines[:-1]), lines
    assert (tmp_path / "a6_samples.png").is_file() and (tmp_path / "a6_real.png").is_file()


def test_run_all_on_the_untouched_student_version_without_mnist(tmp_path):
    """With an empty data folder (no MNIST, no download in smoke mode) the data cell says so and uses
    scikit-learn's digits; 'Run All' goes past the unfinished classes (no training starts) to every visible
    check, each 0 with its message."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    cells = run_in_kernel(STUDENT, tmp_path, GAN_COURSE_DATA=str(empty))
    lines = printed(cells, "data").splitlines()
    assert lines[0].startswith(f"MNIST is not available (dataset 'mnist' not found in {empty / 'MNIST/raw'}")
    assert lines[1] == "Falling back to the offline 'digits' dataset."
    per_digit = torch.bincount(load_dataset("digits").labels).tolist()
    assert lines[2] == f"data: digits, images (1437, 1, 28, 28) torch.uint8, labels (1437,) torch.int64; images per digit: {per_digit}"
    assert printed(cells, "train").strip().endswith("the next cells still run")
    assert len(printed(cells, "train").strip().splitlines()) == 1  # no training started
    lines = [line for cell in cells if cell.cell_type == "code" for line in "".join(
        o.get("text", "") for o in cell.outputs if o.output_type == "stream").splitlines() if line.startswith("a6 ")]
    assert len(lines) == 6, lines
    assert all(": 0/" in line and "is not implemented yet" in line for line in lines), lines


@pytest.mark.parametrize("check, source", [
    ("test_generator_output_shape", one_hot_g(z="z.view(64, -1)")),
    ("test_discriminator_output", channels_d().replace(".view(-1)", ".view(64, -1)")),
    ("test_discriminator_output", channels_d().replace(".view(-1)", ".view(64)")),
], ids=["g_views_z_as_64", "d_views_its_output_as_64", "d_views_its_logits_as_64"])
def test_a_batch_size_fixed_in_a_view_is_named(check, source):
    """A G or D written for the training batch of 64 (.view(64, ...)) fails on the grader's other batch sizes
    with torch's raw 'shape [64, ...] is invalid for input of size N': the message names the fixed batch size."""
    points, message = run_check(getattr(checks, check), kernel_submission(*LABEL_ENCODINGS["category"], source))
    assert points == 0.0 and "a .view or .reshape fixes the batch size at 64, but batches have any size N" in message, message


def test_a_network_that_is_no_module_or_takes_other_arguments_is_named_with_its_call():
    """G made from a plain class (no nn.Module), and D renamed its argument (classes instead of num_classes): each
    network's checks give 0 with the call the grader makes and the fix, not torch's or Python's bare error."""
    plain_g = one_hot_g().replace("class ConditionalGenerator(nn.Module):", "class ConditionalGenerator:").replace(
        "        super().__init__()\n", "").replace("        self.apply(weights_init)\n", "")
    renamed_d = channels_d().replace("def __init__(self, ndf=64, num_classes=10):", "def __init__(self, ndf=64, classes=10):").replace(
        "self.num_classes = num_classes", "self.num_classes = classes").replace("channels=1 + num_classes", "channels=1 + classes")
    sub = kernel_submission(plain_g, renamed_d)
    points, message = run_check(checks.test_generator_output_shape, sub)
    assert points == 0.0 and message.startswith("`ConditionalGenerator(nz=100, ngf=") and message.endswith(
        "num_classes=10)` returned a ConditionalGenerator, not a torch nn.Module: subclass nn.Module and call super().__init__()"), message
    points, message = run_check(checks.test_discriminator_output, sub)
    assert points == 0.0, message
    assert message.startswith("your code raised TypeError: ConditionalDiscriminator.__init__() got an unexpected keyword "
                              "argument 'num_classes'; keep the arguments the grader calls it with: `ConditionalDiscriminator("), message


def squeezed_batch_of_one(role: str) -> str:
    return (f"{role} works for batches of 3 to 10 but not for a batch of one image (for y = [4] it <RAISES>): something in "
            f"its forward drops the batch dimension when N = 1, as .squeeze() without a dim does (y.squeeze() of a (1,) or "
            f"(1, 1) tensor is a scalar); squeeze only the dimension you mean, y.view(-1) or .squeeze(1)")


def test_labels_squeezed_to_a_scalar_for_one_image_cost_the_shape_checks_not_the_label_checks():
    """F.one_hot(y.squeeze(), ...) (a habit from labels kept as a column) breaks G and D for a batch of one only: the
    shape checks, which ask for any batch, now try one image and name the squeeze; the label checks, which compare
    each image with its own G(z[i:i+1], y[i:i+1]), measure the labels' use on the batches that work, and keep their
    points (they used to give 0 with torch's bare "Tensors must have same number of dimensions")."""
    sub = kernel_submission(one_hot_g(one_hot="F.one_hot(y.squeeze(), self.num_classes)"),
                            channels_d(one_hot="F.one_hot(y.squeeze(), self.num_classes)"))
    raised = {
        "test_generator_output_shape": ("G(z, y)", "raises RuntimeError: Tensors must have same number of dimensions: got 2 and 1 "
                                        "(in `ConditionalGenerator.forward`)", "; expected (N, 1, 28, 28)"),
        "test_discriminator_output": ("D(x, y)", "raises IndexError: too many indices for tensor of dimension 1 (in "
                                      "`ConditionalDiscriminator.forward`)", "; expected one logit per image, (N,) or (N, 1)"),
    }
    for check, (role, raises, tail) in raised.items():
        assert run_check(getattr(checks, check), sub) == (0.0, squeezed_batch_of_one(role).replace("<RAISES>", raises) + tail)
    for check in ("test_generator_output_range", "test_generator_uses_labels_and_noise", "test_discriminator_uses_labels"):
        assert run_check(getattr(checks, check), sub) == (FULL[check], ""), check


# ---------------------------------------------------------------------------------------------
# Other ways to pass the labels in the step, and forward's argument order
# ---------------------------------------------------------------------------------------------

STEP_CHECKS = ("test_step_shows_real_images_with_their_labels", "test_step_draws_labels_for_the_fake_batch")
MATCHING_AWARE = "wrong = (labels + torch.randint(1, num_classes, labels.shape)) % num_classes\n    loss_d = LOSS.d_loss(D(real, <REAL_Y>), D(fake.detach(), y_fake)) + F.softplus(D(real, wrong)).mean()"


SWEEP = "y = torch.arange(10).repeat_interleave(8)  # the notebook's class sweep, a global\n"
COUNT_TEXT = (
    "80 labels for 150 images: labels come one per image, (B,) with B = real.shape[0]; the step's own labels, `labels` "
    "for the real batch and y_fake = torch.randint(0, num_classes, (B,)) for the fake one, not a label vector of another "
    "batch (such as a variable of the notebook)"
)


def step_with(old: str, new: str, **parts: str) -> str:
    source = step(**parts)
    assert old in source, old
    return source.replace(old, new)


@pytest.mark.parametrize(
    "source, expected",
    [
        # labels as a column (B, 1), to a G and D that flatten them: right
        (step(y_fake="torch.randint(0, num_classes, (b, 1))"), {}),
        (step(real_y="labels.unsqueeze(1)"), {}),
        # G and D called with keyword arguments in another order: right
        (step_with("fake = G(z, y_fake)", "fake = G(y=y_fake, z=z)"), {}),
        (step_with("D(real, labels)", "D(y=labels, x=real)"), {}),
        # G and D called through .forward (which skips a module's hooks): right
        (step_with("fake = G(z, y_fake)", "fake = G.forward(z, y_fake)").replace("D(", "D.forward("), {}),
        # a matching-aware D (Reed et al. 2016): real images also judged, as fakes, with labels that are not theirs: right
        (step_with("loss_d = LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake))", MATCHING_AWARE.replace("<REAL_Y>", "labels")), {}),
        # the same forms with faults
        (step(real_y="labels[torch.randperm(b)].unsqueeze(1)"), {STEP_CHECKS[0]: (0.0, (
            "D judges the real images with their batch's labels in another order (<n> of 150 images with a label that is "
            "not theirs): image i must come with labels[i]; shuffle or index images and labels together, or not at all"))}),
        (step(y_fake="torch.randint(0, num_classes - 1, (b, 1))"), {STEP_CHECKS[1]: (1.0, (
            "in a step with 150 real images G is never asked for label 9: torch.randint(low, high, size) draws from low to "
            "high - 1, so torch.randint(0, num_classes, (B,)) draws every label 0..9"))}),
        (step_with("D(fake.detach(), y_fake)", "D(y=labels, x=fake.detach())"), {STEP_CHECKS[1]: (1.0, (
            "D judges G's images with the real batch's labels: D must judge each fake image with the label G drew it for, "
            "D(fake, y_fake), in D's step and in G's"))}),
        (step_with("loss_d = LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake))",
                   MATCHING_AWARE.replace("<REAL_Y>", "labels[torch.randperm(b)]")), {STEP_CHECKS[0]: (0.0, (
            "D judges the real images with labels that are not theirs (<n> of 300): D(real, labels), image i with labels[i]"))}),
        # the notebook's global y (the class sweep's 80 labels) where the step's own labels belong
        (SWEEP + step_with("fake = G(z, y_fake)", "fake = G(z, y)"), {STEP_CHECKS[1]: (0.0, (
            f"train_step calls G(z, y) with {COUNT_TEXT}"))}),
        (SWEEP + step_with("D(fake.detach(), y_fake)", "D(fake.detach(), y)"), {STEP_CHECKS[1]: (1.0, (
            f"D judges G's images with {COUNT_TEXT}: D must judge each fake image with the label G drew it for, "
            f"D(fake, y_fake), in D's step and in G's"))}),
        (SWEEP + step(real_y="y"), {STEP_CHECKS[0]: (0.0, f"train_step shows D the real images with {COUNT_TEXT}")}),
    ],
    ids=["fake_labels_as_a_column", "real_labels_as_a_column", "g_keywords_swapped", "d_keywords_swapped", "forward_called_directly",
         "matching_aware_d",
         "column_real_labels_shuffled", "column_fake_labels_without_9", "d_keywords_fake_with_real_labels",
         "matching_aware_with_real_labels_shuffled", "g_given_the_global_y", "d_judges_fakes_with_the_global_y",
         "d_judges_reals_with_the_global_y"],
)
def test_labels_as_a_column_keyword_calls_and_a_matching_aware_d_are_read_as_the_step_means_them(source, expected):
    """The step checks read labels (B, 1) as (B,), G's and D's keyword arguments by forward's parameter names,
    calls of G.forward and D.forward as calls of G and D, name labels that are not one per image (a global
    label vector of the notebook used in the step), and accept real images judged again with other labels when each is also judged with its own (a mismatch
    term of a matching-aware D); the same forms with the faults of the checks still lose their points."""
    sub = kernel_submission(source)
    for check in STEP_CHECKS:
        got = run_check(getattr(checks, check), sub)
        want = expected.get(check, (FULL[check], ""))
        assert matches(got, want), (check, got)


@pytest.mark.parametrize("role", ["G", "D"])
def test_a_forward_that_takes_the_labels_first_is_told_so(role):
    """forward(self, y, z) (or (y, x)) fails on the grader's G(z, y) with an error deep in its one-hot; the
    message says it runs with the labels first, and names the order the task asks for."""
    if role == "G":
        source = one_hot_g().replace("def forward(self, z, y):", "def forward(self, y, z):")
        check, call, given = checks.test_generator_output_shape, "G(z, y)", "z"
    else:
        source = channels_d().replace("def forward(self, x, y):", "def forward(self, y, x):")
        check, call, given = checks.test_discriminator_output, "D(x, y)", "x"
    assert "(self, y, " in source
    points, message = run_check(check, kernel_submission(source))
    assert points == 0.0 and message.startswith(f"{call} raises RuntimeError: one_hot is only applicable"), message
    assert (f", and runs when called with the labels first, {role}(y, {given}): its forward takes its arguments in the other "
            f"order; the grader (and the task) calls {call}, so define forward(self, {given}, y), and call {role}({given}, y) "
            f"in train_step") in message, message


def test_a_d_ending_in_squeeze_is_compared_with_itself_by_value():
    """D(...).squeeze() gives () for a batch of one image and (N,) otherwise (a common DCGAN idiom, right for
    every batch the step sees): its logits are compared by value, so it keeps its points; a G that mixes the
    batch's labels is still told so by the same comparison."""
    squeezed = channels_d().replace(".view(-1)", ".squeeze()")
    assert ".squeeze()" in squeezed
    sub = kernel_submission(squeezed)
    for check in ("test_discriminator_output", "test_discriminator_uses_labels"):
        assert run_check(getattr(checks, check), sub) == (FULL[check], ""), check
    mixed = kernel_submission(one_hot_g(one_hot="F.one_hot(y, self.num_classes).flip(0)"))
    points, message = run_check(checks.test_generator_uses_labels_and_noise, mixed)
    assert points == 1.0 and message.startswith("in eval mode, image i of G(z, y) differs from G(z[i:i+1], y[i:i+1])"), message


# ---------------------------------------------------------------------------------------------
# Fake labels new at every step; G and D called with the labels first or without them
# ---------------------------------------------------------------------------------------------

SAME_LABELS = "G is asked for the same labels at every step (two calls of train_step on the same 12 real images both asked G for the labels "
NOT_NEW = NAMED["<NOT_NEW>"]


@pytest.mark.parametrize(
    "source, expected",
    [
        # new labels at every step, drawn in other ways: right
        ("GEN = torch.Generator().manual_seed(0)\n" + step(y_fake="torch.randint(0, num_classes, (b,), generator=GEN)"), None),
        ("CALLS = [0]\n" + step_with("    y_fake = ", "    CALLS[0] += 1\n    y_fake = ", y_fake=(
            "torch.randint(0, num_classes, (b,), generator=torch.Generator().manual_seed(CALLS[0]))")), None),
        ("import numpy as np\n" + step(y_fake="torch.from_numpy(np.random.randint(0, num_classes, b))"), None),
        (step(y_fake="torch.randint(num_classes, (b,))"), None),
        (step(y_fake="torch.multinomial(torch.ones(num_classes), b, replacement=True)"), None),
        (step(y_fake="torch.randperm(b) % num_classes"), None),  # balanced, and new at every step
        # a fixed pattern: the same labels at every step
        (step(y_fake="torch.arange(b) % num_classes"), (1.0, f"{SAME_LABELS}0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1): {NOT_NEW}")),
        # drawn once, outside the step, and sliced
        ("Y_FAKE = torch.randint(0, 10, (1000,))\n" + step(y_fake="Y_FAKE[:b]"), (1.0, f"{SAME_LABELS}<n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>): {NOT_NEW}")),
        # a slice of a label-major sweep: a batch of 12 asks for 0s and 1s only, at every step
        ("SWEEP = torch.arange(10).repeat_interleave(8).repeat(3)\n" + step(y_fake="SWEEP[:b]"),
         (1.0, f"{SAME_LABELS}0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1): {NOT_NEW}")),
        # a generator seeded with the same seed at every call
        (step(y_fake="torch.randint(0, num_classes, (b,), generator=torch.Generator().manual_seed(0))"),
         (1.0, f"{SAME_LABELS}<n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>): {NOT_NEW}")),
        # torch.manual_seed inside the step: z repeats too
        (step_with("    b = real.shape[0]\n", "    b = real.shape[0]\n    torch.manual_seed(0)\n"), (1.0, (
            "train_step gives G the same noise z and the same labels at every call (two calls on the same 12 real images "
            "drew the very same z and the labels <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n>, <n> again): a "
            "seed set inside train_step (torch.manual_seed, or a torch.Generator seeded there) repeats every draw; seed "
            "once before training, and let each step draw new z and y_fake = torch.randint(0, num_classes, (B,))"))),
        # computed from the real labels by a rule, not drawn
        (step(y_fake="(labels + 1) % num_classes"), (1.0, (
            "G is asked for labels computed from the real batch's, not drawn (each label k gives (k + 1) mod 10): draw "
            "the fake batch's labels at random over all classes, y_fake = torch.randint(0, num_classes, (B,)), so that G "
            "learns every digit it can be asked for"))),
        # the labels drawn anew, the noise a slice of one batch drawn once in the notebook
        ("FIXED_Z = torch.randn(1000, NZ)\n" + step().replace("z = torch.randn(b, nz)", "z = FIXED_Z[:b]"), (1.0, (
            "train_step gives G the very same noise z at every call (two calls on the same 12 real images drew new labels but "
            "the same z): noise drawn once (a global batch of z, or a slice of fixed noise) is not new noise; draw z = "
            "torch.randn(B, nz) inside train_step at every step, as the task asks"))),
    ],
    ids=["module_generator", "generator_seeded_per_call_by_a_counter", "numpy_draw", "randint_high_only", "multinomial",
         "balanced_permutation", "arange_pattern", "drawn_once_outside", "label_major_sweep_slice", "generator_seeded_alike_every_call", "manual_seed_in_step",
         "computed_from_the_real_labels", "noise_drawn_once_outside"],
)
def test_fake_labels_must_be_new_at_every_step(source, expected):
    """Two calls of the step on the same real batch must ask G for other labels: a vector drawn once outside the
    step, a slice of a fixed sweep, or a seed set in the step (z repeats too: named) cost the draw's point; labels
    computed from the real ones by a rule too; any fresh draw (torch, numpy, a generator kept or seeded anew per
    call) is right. Real images stay with their labels in all of them."""
    sub = kernel_submission(source)
    assert run_check(checks.test_step_shows_real_images_with_their_labels, sub) == (2.0, "")
    got = run_check(checks.test_step_draws_labels_for_the_fake_batch, sub)
    assert matches(got, expected or (2.0, "")), got


def noised(sigma: float, uniform: bool = False, **parts: str) -> str:
    """The solution's step with instance noise (Sonderby et al. 2016; ganhacks' "add noise to inputs") added to every
    image D judges: N(0, sigma^2), or U(0, sigma) clamped to [-1, 1]."""
    def noisy(images: str) -> str:
        return (f"({images} + {sigma} * torch.rand_like({images})).clamp(-1, 1)" if uniform
                else f"{images} + {sigma} * torch.randn_like({images})")

    source = step(**parts)
    for images in ("real", "fake.detach()", "fake"):
        assert f"D({images}, " in source, images
        source = source.replace(f"D({images}, ", f"D({noisy(images)}, ")
    return source


@pytest.mark.parametrize(
    "source, expected",
    [
        (noised(0.1), {}),
        (noised(0.2), {}),
        (noised(0.1, uniform=True), {}),
        (noised(0.1, real_y="labels[torch.randperm(b)]"), {STEP_CHECKS[0]: (0.0, (
            "D judges the real images with their batch's labels in another order (<n> of 150 images with a label that is "
            "not theirs): image i must come with labels[i]; shuffle or index images and labels together, or not at all"))}),
        (noised(0.1, fake_y="labels"), {STEP_CHECKS[1]: (1.0, (
            "D judges G's images with the real batch's labels: D must judge each fake image with the label G drew it for, "
            "D(fake, y_fake), in D's step and in G's"))}),
    ],
    ids=["gaussian_0.1", "gaussian_0.2", "uniform_clamped", "real_labels_shuffled", "fakes_with_the_real_labels"],
)
def test_a_step_that_adds_instance_noise_still_judges_its_images(source, expected):
    """A step that adds noise to the images D judges (real and fake, as instance noise does) shows D the real batch
    and G's images all the same: the step checks find each image under its noise (they used to find none, and took
    all four points: "D never judges the real batch"), and the same step with the checks' faults still loses their points."""
    sub = kernel_submission(source)
    for check in STEP_CHECKS:
        got = run_check(getattr(checks, check), sub)
        assert matches(got, expected.get(check, (FULL[check], ""))), (check, got)


def test_images_are_found_under_noise_but_not_among_look_alikes(monkeypatch):
    """same_rows finds each real digit (and each stand-in G image, which lie closer together) under instance noise,
    none at the wrong place; other digits of the data set, some as close to a real one as noise would put them (the
    8x8 digits drawn at 28x28 repeat), and G's images against the real ones are found nowhere."""
    real, _ = checks.real_batch("mixed")
    fake = probes_a6.stand_in_generator(100, 16)(torch.randn(150, 100, generator=torch.Generator().manual_seed(1)), None).detach()
    gen = torch.Generator().manual_seed(0)
    for ref in (real, fake):
        for sigma in (0.05, 0.1, 0.2):
            rows = checks.same_rows(ref + sigma * torch.randn(ref.shape, generator=gen), ref)
            assert bool(((rows == torch.arange(len(ref))) | (rows == -1)).all()) and int((rows >= 0).sum()) >= 140, sigma
    others = checks.digits().data[300:900].float() / 127.5 - 1  # none of the 150 (the first 15 of each digit)
    assert bool((checks.same_rows(others, real) == -1).all())
    with monkeypatch.context() as patch:  # without the test that the difference is white noise, some look-alikes pass
        patch.setattr(checks, "WHITE", 2.0)
        assert int((checks.same_rows(others, real) >= 0).sum()) >= 5
    assert bool((checks.same_rows(fake, real) == -1).all()) and bool((checks.same_rows(real, fake) == -1).all())


D_LABELS_FIRST = (
    "train_step calls D with its arguments in the other order, D(y, x) (its first argument an integer tensor (150,), its "
    "second (150, 1, 28, 28)): D is called D(x, y), the images first and the labels second, as the task says: call "
    "D(real, labels) and D(fake, y_fake) (with forward(self, x, y) in your D)"
)


@pytest.mark.parametrize(
    "source, message",
    [
        (step_with("fake = G(z, y_fake)", "fake = G(z=y_fake, y=z)"), NAMED["<G_LABELS_FIRST>"]),
        (step_with("D(real, labels)", "D(labels, real)"), D_LABELS_FIRST),
        (step_with("loss_g = LOSS.g_loss(D(fake, y_fake))", "loss_g = LOSS.g_loss(D(y_fake, fake))"), D_LABELS_FIRST),
        (step_with("fake = G(z, y_fake)", "fake = G(z)"),
         "train_step calls G without the labels, G(z) as in dcgan_step: the conditional G takes them too, G(z, y): call G(z, y_fake)"),
        (step_with("D(real, labels)", "D(real)"),
         "train_step calls D without the labels, D(x) as in dcgan_step: the conditional D takes them too, D(x, y): call "
         "D(real, labels) and D(fake, y_fake)"),
    ],
    ids=["g_keywords_labels_as_z", "d_real_labels_first", "d_labels_first_in_g_step", "g_without_labels", "d_without_labels"],
)
def test_a_step_that_calls_g_or_d_with_the_labels_first_or_without_them_is_told_so(source, message):
    """The grader's stand-ins take (z, y) and (x, y) as the task says; a step that calls them otherwise raises deep
    inside them (IndexError: Dimension out of range, or a missing argument of a class the student never wrote):
    the step checks name what the failing call was given, from the calls `step_calls` recorded before the error."""
    sub = kernel_submission(source)
    for check in STEP_CHECKS:
        assert run_check(getattr(checks, check), sub) == (0.0, message), check


def test_step_calls_returns_the_calls_so_far_with_the_error_and_later_steps_labels():
    """A step that raises comes back with the calls recorded until then (the one that raised unfinished) and the
    error; with steps=2 the second call's G calls come back too, drawn on from the same seeded generator."""
    G, D = probes_a6.stand_in_generator(8, 4), probes_a6.stand_in_discriminator(4)
    real, labels = torch.rand(6, 1, 28, 28) * 2 - 1, torch.arange(6)

    def swapped(G, D, opt_g, opt_d, real, labels, nz, num_classes):
        y = torch.randint(0, num_classes, (len(real),))
        D(real, labels)
        return G(y, torch.randn(len(real), nz))

    record = probes_a6.step_calls(swapped, G, D, real, labels, nz=8, seed=0, namespace={})
    assert record["error"]["type"] == "IndexError" and record["returned"] is None
    assert [c["finished"] for c in record["d_calls"]] == [True] and [c["finished"] for c in record["g_calls"]] == [False]
    assert [t.dtype for t in record["g_calls"][0]["inputs"]] == [torch.int64, torch.float32]

    def fine(G, D, opt_g, opt_d, real, labels, nz, num_classes):
        G(torch.randn(len(real), nz), torch.randint(0, num_classes, (len(real),)))
        return 0.0, 0.0

    record = probes_a6.step_calls(fine, G, D, real, labels, nz=8, seed=0, steps=2)
    assert record["error"] is None and len(record["later_g_calls"]) == 1
    first, second = record["g_calls"][0]["inputs"][1], record["later_g_calls"][0][0]["inputs"][1]
    assert not torch.equal(first, second)



BCE_STEP = '''
def train_step(G, D, opt_g, opt_d, real, labels, nz=NZ, num_classes=NUM_CLASSES):
    criterion = <CRITERION>
    b = real.shape[0]
    valid, fake_target = torch.ones(<TARGET_SHAPE>), torch.zeros(<TARGET_SHAPE>)
    y_fake = torch.randint(0, num_classes, (b,))
    fake = G(torch.randn(b, nz), y_fake)
    loss_d = criterion(<SCORE>(D(real, labels)), valid) + criterion(<SCORE>(D(fake.detach(), y_fake)), fake_target)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = criterion(<SCORE>(D(fake, y_fake)), valid)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()
'''


def bce_step(criterion: str = "nn.BCEWithLogitsLoss()", target_shape: str = "b", score: str = "") -> str:
    return (BCE_STEP.replace("<CRITERION>", criterion).replace("<TARGET_SHAPE>", target_shape)
            .replace("<SCORE>", score))


BCE_LOGITS = (
    "nn.BCELoss and F.binary_cross_entropy take probabilities, but were given values outside [0, 1]: D returns logits, so "
    "use a loss made for logits, nn.BCEWithLogitsLoss or F.binary_cross_entropy_with_logits (the course's losses take "
    "logits too)"
)
STAND_IN_READ = (
    "train_step reads G.nz, which the grader's stand-in G (like any G(z, y) and D(x, y) the step is given) need not have; "
    "use train_step's own arguments nz and num_classes, and the shapes of real and labels"
)


@pytest.mark.parametrize(
    "d_out, source, expected",
    [
        # D returns (N, 1), as the task allows; the step's targets are (N, 1) (PyTorch-GAN's `valid = ones(b, 1)`), or
        # it squeezes D's output: right, judged with a stand-in D that returns (N, 1) too
        (".view(-1, 1)", bce_step(target_shape="b, 1"), {}),
        (".view(-1, 1)", bce_step(score="(lambda s: s.squeeze(1))"), {}),
        # the PyTorch DCGAN tutorial's pair: D ends in a sigmoid, the step takes nn.BCELoss; the labels are right, the
        # sigmoid costs D's own check only
        (".sigmoid()", bce_step("nn.BCELoss()"), {}),
        # nn.BCELoss on a D that returns logits: the step runs with a D of another form, so its labels are judged (right);
        # the mismatch is the learning check's to charge (below), once
        ("", bce_step("nn.BCELoss()"), {}),
        # the step reads nz from G instead of its own argument
        ("", bce_step().replace("torch.randn(b, nz)", "torch.randn(b, G.nz)"), {
            check: (0.0, f"calling `train_step` raised AttributeError: '_StandInGenerator' object has no attribute 'nz': "
                         f"{STAND_IN_READ}") for check in STEP_CHECKS}),
    ],
    ids=["d_column_targets_column", "d_column_squeezed", "sigmoid_d_bce_loss", "logits_d_bce_loss", "nz_read_from_g"],
)
def test_the_step_is_graded_with_a_stand_in_d_of_the_students_ds_form(d_out, source, expected):
    """The stand-in D a step is graded with returns what the student's D returns, (N,) or (N, 1), logits or
    probabilities (`d_form`): a step written for a D that returns (N, 1), or for one ending in a sigmoid (nn.BCELoss), is
    judged by the labels it passes, not failed with a shape or range error of the grader's D. A step that raises with
    the student's own D's form is told why, with the fix (nn.BCELoss on logits; G.nz read from the stand-in)."""
    sub = kernel_submission(one_hot_g(), channels_d(out=d_out), source)
    for check in STEP_CHECKS:
        got = run_check(getattr(checks, check), sub)
        want = expected.get(check, (FULL[check], ""))
        assert matches(got, want), (check, got)


def test_a_step_that_fits_no_d_of_the_students_form_is_told_the_fix_by_the_learning_check():
    """nn.BCELoss given the logits of the student's D: the grading run stops at its first step, told that nn.BCELoss
    takes probabilities and which loss takes logits (a known fix of PyTorch's bare range error)."""
    sub = kernel_submission(one_hot_g(), channels_d(), bce_step("nn.BCELoss()"))
    assert run_check(checks.test_learns_to_draw_the_digit_asked_for, sub) == (0.0, (
        f"the grading run could not train the GAN: calling `train_step` raised RuntimeError: all elements of input should "
        f"be between 0 and 1: {BCE_LOGITS}"))


def test_a_label_joined_along_the_batch_or_a_given_generator_of_the_wrong_width_is_told_the_fix():
    """torch.cat without dim joins along the batch: told to join along dim 1; the given Generator built for another
    input size than the one that reaches its Unflatten (a one-hot of num_classes + 1) is told to build it for that size."""
    sub = kernel_submission(one_hot_g().replace("], dim=1))", "]))"), channels_d())
    points, message = run_check(checks.test_generator_output_shape, sub)
    assert points == 0.0 and message.startswith("G(z, y) raises RuntimeError: Sizes of tensors must match except in dimension 0")
    assert message.endswith(": torch.cat joins along dim 0 by default, the batch; join the label along the features or "
                            "channels, torch.cat([z, one_hot], dim=1) in G, torch.cat([x, label_maps], dim=1) in D; "
                            "expected (N, 1, 28, 28)"), message
    sub = kernel_submission(one_hot_g(one_hot="F.one_hot(y, self.num_classes + 1)"), channels_d())
    points, message = run_check(checks.test_generator_output_shape, sub)
    assert points == 0.0 and message.startswith("G(z, y) raises RuntimeError in `main.0` (Unflatten(dim=1, unflattened_size="
                                                "(110, 1, 1))) on its input (N, 111)") and message.endswith(
        "the given Generator(nz_in, ...) unflattens exactly nz_in numbers per sample: nz_in must be the size that reaches it, "
        "z's (the `nz` argument) plus the label's (num_classes = 10 for a one-hot); expected (N, 1, 28, 28)"), message


def test_real_images_rescaled_again_in_the_step_are_told_so():
    """A step that normalises the real batch again ((real - 0.5) / 0.5, a loader's habit) shows D no image of `real`:
    told that the real images reach D rescaled, with the factors, not that D never judges them."""
    sub = kernel_submission(step_with("D(real, labels)", "D((real - 0.5) / 0.5, labels)"))
    assert run_check(checks.test_step_shows_real_images_with_their_labels, sub) == (0.0, (
        "D judges the real images rescaled (real * 2 - 1), not as train_step gets them: `real` comes already in [-1, 1], "
        "the range of G's tanh; pass it to D as it is, D(real, labels)"))


@pytest.mark.parametrize("source, check, expected", [
    (one_hot_g(layers=".append(nn.Tanh())"), "test_generator_output_range", (0.0, (
        "G's output stays in [-0.762, 0.762] even with its weights scaled up, short of the data's -1 and 1 (a tanh "
        "saturates there): its tanh's output is squashed again (a second tanh caps it at 0.762, a factor below 1 shrinks "
        "it), so it can never draw the images' darkest and brightest pixels; apply nn.Tanh() once, as its last layer, and "
        "return its output as it is"))),
    (channels_d(out=".tanh()"), "test_discriminator_output", (1.0, (
        "D's outputs stay in [<n>, <n>] even with its weights scaled up 25 times: its last layer squashes them; return "
        "logits, the last layer's output with no activation after it: LOSS (reference.losses) takes logits"))),
    (channels_d(out=".sigmoid().clamp(min=1e-12).log()"), "test_discriminator_output", (1.0, (
        "D's outputs are never positive ([<n>, <n>] even with its weights scaled up 25 times): its last operation is a "
        "log, so D(x) = sigmoid(output) never rises above 0.5: it can never call an image real; return logits, the last "
        "layer's output with no activation after it: the course's losses take logits and apply the sigmoid themselves"))),
    (channels_d(out=".relu()"), "test_discriminator_output", (1.0, (
        "D's outputs are never negative ([<n>, <n>] even with its weights scaled up 25 times): its last operation is a "
        "ReLU, so D(x) = sigmoid(output) never falls far below 0.5: it can never call an image fake; return logits, the "
        "last layer's output with no activation after it: the course's losses take logits and apply the sigmoid themselves"))),
], ids=["g_tanh_twice", "d_tanh", "d_log_of_sigmoid", "d_relu"])
def test_outputs_that_cannot_reach_the_data_or_be_logits_lose_points(source, check, expected):
    """A second tanh (G's output capped at 0.762: it never draws -1 or 1) and a D ending in a tanh (1 of 2 in a4's
    rule), a log of its sigmoid (D(x) never above 0.5) or a ReLU (never below 0.5) scored full marks."""
    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "Generator": Generator,
                 "Discriminator": Discriminator, "weights_init": weights_init}
    exec(textwrap.dedent(source), namespace)
    assert matches(run_check(getattr(checks, check), LocalSubmission(namespace)), expected)


@pytest.mark.parametrize("z, expected", [
    ("z", (2.0, "")),
    # found by session 35's red team in a2 and a4 (10/10 there): noise drawn inside forward, the z it is given unused;
    # here it was told its images were coupled across the batch
    ("torch.randn_like(z)", (1.0, (
        "G(z, y)'s output does not depend on the z it is given (no gradient reaches z): it draws noise of its own (torch.randn inside "
        "forward), or uses z only to pick (an argmax, an index) between a few fixed images; forward(z) must map z "
        "itself, so that a fixed z draws a fixed image and each z its own"))),
    ("z * (torch.arange(z.shape[1]) < 50)", (1.0, (
        "G(z, y)'s output depends on 50 of the 100 dimensions of z only (the gradient to the other 50 is exactly 0): pass "
        "all of z into the first layer"))),
], ids=["z", "own_noise", "half_of_z"])
def test_a_generator_that_ignores_its_noise_keeps_one_point(z, expected):
    import torch.nn.functional as F
    from torch import nn

    from reference.grading.submission import LocalSubmission

    namespace = {"torch": torch, "nn": nn, "F": F, "Generator": Generator, "weights_init": weights_init}
    exec(textwrap.dedent(one_hot_g(z=z)), namespace)
    assert run_check(checks.test_generator_uses_labels_and_noise, LocalSubmission(namespace)) == expected


@pytest.mark.parametrize("forward", [
    # found by session 35's red team (0/2, "gives other outputs for the same images and labels twice in eval mode"):
    # F.dropout without training=self.training, and instance noise, in D's forward; D only ever runs in training
    "maps = F.dropout(maps, 0.3)",
    "x = x + 0.05 * torch.randn_like(x)",
], ids=["f_dropout", "instance_noise"])
def test_randomness_in_d_that_leaves_its_label_path_alone_keeps_the_points(forward):
    source = channels_d().replace("        return self.main(", f"        {forward}\n        return self.main(")
    assert forward in source
    assert run_check(checks.test_discriminator_uses_labels, kernel_submission(*LABEL_ENCODINGS["category"], source)) == (2.0, "")


# ---------------------------------------------------------------------------------------------
# Found by red-teaming the checks: a one-hot made for a fixed batch, and a step's one-hot rows without num_classes
# ---------------------------------------------------------------------------------------------

FIXED_BATCH_ONE_HOT = "torch.zeros(64, self.num_classes).scatter_(1, y.view(-1, 1), 1)"  # written for the notebook's batch


@pytest.mark.parametrize("check, source, role, tail", [
    ("test_generator_output_shape", one_hot_g(one_hot=FIXED_BATCH_ONE_HOT), "ConditionalGenerator", "; expected (N, 1, 28, 28)"),
    ("test_generator_uses_labels_and_noise", one_hot_g(one_hot=FIXED_BATCH_ONE_HOT), "ConditionalGenerator", ""),
    ("test_discriminator_output", channels_d(one_hot=FIXED_BATCH_ONE_HOT), "ConditionalDiscriminator",
     "; expected one logit per image, (N,) or (N, 1)"),
    ("test_discriminator_uses_labels", channels_d(one_hot=FIXED_BATCH_ONE_HOT), "ConditionalDiscriminator", ""),
], ids=["g_shape", "g_labels", "d_shape", "d_labels"])
def test_a_one_hot_made_for_a_fixed_batch_is_named(check, source, role, tail):
    """A one-hot made as torch.zeros(64, num_classes) fails for every other batch in torch.cat with torch's "Sizes of
    tensors must match except in dimension 1. Expected size 10 but got size 64": the message names the fixed batch and
    the fix (it was torch's error alone)."""
    sub = kernel_submission(*LABEL_ENCODINGS["category"], source)
    who = "G(z, y)" if role == "ConditionalGenerator" else "D(x, y)"
    assert run_check(getattr(checks, check), sub) == (0.0, (
        f"{who} raises RuntimeError: Sizes of tensors must match except in dimension 1. Expected size 10 but got size 64 for "
        f"tensor number 1 in the list. (in `{role}.forward`): a tensor in forward is made for a fixed batch of 64 (as "
        f"torch.zeros(64, num_classes) makes a one-hot), but batches have any size N (here 10): make it from the labels, "
        f"F.one_hot(y, num_classes), or size it from the input, y.shape[0]{tail}"))


ROWS = CORRECT["deeplearning_ai_one_hot_rows"]
NARROW_ROWS = (
    "train_step gives D the real images' labels as one-hot rows whose width follows the batch: for 12 real 7s they are "
    "(12, 8), not (12, 10): F.one_hot(labels) without num_classes makes as many columns as the batch's largest label plus "
    "one, so D gets another label size whenever a batch holds no 9; pass num_classes, F.one_hot(labels, num_classes), or "
    "give D the integer labels as they are"
)


def test_a_step_s_one_hot_rows_without_num_classes_are_named():
    """The deeplearning.ai step (one-hot rows for G and D) with F.one_hot(labels) without num_classes: every check's
    batch of 150 holds every digit, so the rows had 10 columns and the step kept its points, while the learning run
    crashed on its first batch without a 9 with torch's "expected input[32, 10, 28, 28] to have 11 channels". The
    visible step check now tries a batch of 7s and names the fault, and so does the learning check's message."""
    step_source = textwrap.dedent(ROWS["train_step"]).replace("F.one_hot(labels, num_classes)", "F.one_hot(labels)")
    assert "F.one_hot(labels).float()" in step_source
    sub = kernel_submission(ROWS["generator"], ROWS["discriminator"], step_source)
    assert run_check(checks.test_step_shows_real_images_with_their_labels, sub) == (0.0, NARROW_ROWS)
    assert run_check(checks.test_step_draws_labels_for_the_fake_batch, sub) == (2.0, "")
    points, message = run_check(checks.test_learns_to_draw_the_digit_asked_for, sub)
    assert points == 0.0 and message.startswith("the grading run could not train the GAN: calling `train_step` raised "
                                                "RuntimeError: ") and message.endswith(f"; {NARROW_ROWS}"), message
    right = kernel_submission(ROWS["generator"], ROWS["discriminator"], ROWS["train_step"])
    assert run_check(checks.test_step_shows_real_images_with_their_labels, right) == (2.0, "")


STEP_ALTERNATIVES = {
    # G's loss on a second fake batch, with new z and labels of its own
    "second_fake_batch_for_g": step().replace("    loss_g = LOSS.g_loss(D(fake, y_fake))",
                                              "    y2 = torch.randint(0, num_classes, (b,))\n"
                                              "    loss_g = LOSS.g_loss(D(G(torch.randn(b, nz), y2), y2))"),
    # real and fake judged in one call of D, with their labels joined the same way
    "real_and_fake_in_one_call": step().replace(
        "    loss_d = LOSS.d_loss(D(real, labels), D(fake.detach(), y_fake))",
        "    out = D(torch.cat([real, fake.detach()]), torch.cat([labels, y_fake]))\n    loss_d = LOSS.d_loss(out[:b], out[b:])"),
    # fake labels drawn by torch.multinomial, and by torch.randint_like
    "multinomial_labels": step(y_fake="torch.multinomial(torch.ones(num_classes), b, replacement=True)"),
    "randint_like_labels": step(y_fake="torch.randint_like(labels, 0, num_classes)"),
}


@pytest.mark.parametrize("name", list(STEP_ALTERNATIVES))
def test_other_right_ways_to_write_the_step_keep_the_step_points(name):
    sub = kernel_submission(*LABEL_ENCODINGS["category"], STEP_ALTERNATIVES[name])
    assert {c: run_check(getattr(checks, c), sub) for c in STEP_CHECKS} == {c: OK[c] for c in STEP_CHECKS}


# ---------------------------------------------------------------------------------------------
# Found by red-teaming the checks (session 38): a step that calls the student's G and D by keyword, with the names
# their own forward gives the arguments
# ---------------------------------------------------------------------------------------------

NAMED_ARGUMENTS_G = '''
class ConditionalGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64, num_classes=10):
        super().__init__()
        self.label_embedding = nn.Embedding(num_classes, nz)
        self.main = Generator(nz, ngf, channels=1, size=28).main
        self.apply(weights_init)

    def forward(self, noise, labels):
        return self.main(torch.mul(self.label_embedding(labels), noise))
'''

NAMED_ARGUMENTS_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.main = Discriminator(ndf, channels=1 + num_classes, size=28).main
        self.apply(weights_init)

    def forward(self, img, labels):
        maps = F.one_hot(labels, self.num_classes).to(img.dtype)[:, :, None, None].expand(-1, -1, 28, 28)
        return self.main(torch.cat([img, maps], dim=1)).view(-1)
'''


def keyword_step(**parts: str) -> str:
    """The solution's step calling G and D by keyword with NAMED_ARGUMENTS_G's and _D's names (one call in the
    other order)."""
    return (step(**parts).replace("fake = G(z, y_fake)", "fake = G(noise=z, labels=y_fake)")
            .replace("D(real, ", "D(img=real, labels=").replace("D(fake, y_fake)", "D(labels=y_fake, img=fake)"))


@pytest.mark.parametrize("edit, expected", [
    # right: the step checks judge the labels it passes, and the gradient probes find nothing
    ("", {}),
    # the same calls with faults: still told
    ("real_y", {STEP_CHECKS[0]: (0.0, (
        "D judges the real images with the labels drawn for the fake batch, not with their own: D(real, labels) for the "
        "real images, D(fake, y_fake) for G's"))}),
    ("no_g_clear", {"stale": "train_step's opt_g.step() also applies gradients left over from before"}),
    ("swapped", {"direction": "train_step's D step makes D score the real images lower against the fakes"}),
], ids=["right", "real_images_with_fake_labels", "g_never_cleared", "d_loss_swapped"])
def test_a_step_calling_g_and_d_by_their_own_argument_names_is_graded_by_what_it_passes(edit, expected):
    """G(noise=z, labels=y_fake) and D(img=real, labels=labels), for a G with forward(self, noise, labels) (as in
    PyTorch-GAN) and a D with forward(self, img, labels): right, and the learning run (the student's own networks) takes
    it. The grader's stand-ins took z, y and x, y only, so the step raised "_StandInGenerator.forward() got an unexpected
    keyword argument 'noise'" and lost both step checks (0 of 4), told to keep a signature it had kept. The stand-ins
    now take the student's networks' argument names; the faults of such a step are still found."""
    source = keyword_step(real_y="y_fake") if edit == "real_y" else keyword_step()
    if edit == "no_g_clear":
        source = source.replace("    opt_g.zero_grad()\n", "")
    if edit == "swapped":
        source = source.replace("LOSS.d_loss(D(img=real, labels=labels), D(fake.detach(), y_fake))",
                                "LOSS.d_loss(D(fake.detach(), y_fake), D(img=real, labels=labels))")
    assert source.count("(noise=z, labels=y_fake)") == 1 and "(labels=y_fake, img=fake)" in source, source
    sub = kernel_submission(NAMED_ARGUMENTS_G, NAMED_ARGUMENTS_D, source)
    for check in STEP_CHECKS:
        got = run_check(getattr(checks, check), sub)
        want = expected.get(check, (FULL[check], ""))
        assert matches(got, want), (check, got)
    found = {"stale": checks.stale_gradient_fault(sub), "crossed": checks.crossed_gradient_fault(sub),
             "direction": checks.direction_fault(sub), "unstable": checks.unstable_loss_fault(sub)}
    for name, fault in found.items():
        assert (fault is None) if name not in expected else (fault or "").startswith(expected[name]), (name, fault)


# ---------------------------------------------------------------------------------------------
# Found by red-teaming the checks (session 38): a spectrally normalised D whose first logits all lie in [0, 1]
# ---------------------------------------------------------------------------------------------

SPECTRAL_NORM_D = '''
from torch.nn.utils.parametrizations import spectral_norm

class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        layers = [m for m in Discriminator(ndf, channels=1 + num_classes, size=28).main if not isinstance(m, nn.BatchNorm2d)]
        for m in layers:
            if isinstance(m, nn.Conv2d):
                weights_init(m)
        self.main = nn.Sequential(*[spectral_norm(m) if isinstance(m, nn.Conv2d) else m for m in layers])

    def forward(self, x, y):
        maps = F.one_hot(y, self.num_classes).float().mul(2).sub(1)[:, :, None, None].expand(-1, -1, 28, 28)  # -1 / +1 planes
        return self.main(torch.cat([x, maps], 1)).view(-1)<OUT>
'''


@pytest.mark.parametrize("out, expected, probabilities", [
    ("", (2.0, ""), False),
    (".sigmoid()", (1.0, "D's outputs stay in [<n>, <n>] even with its weights scaled up 25 times: it returns probabilities "
                         "(a final sigmoid); return logits, without nn.Sigmoid(): LOSS (reference.losses) takes logits"), True),
], ids=["logits", "sigmoid"])
def test_a_spectrally_normalised_d_is_judged_by_its_last_layer_not_its_first_logits(out, expected, probabilities):
    """SNGAN's recipe on the given D (BatchNorm dropped, every conv wrapped in spectral_norm, the labels as -1/+1
    planes): its weights scaled up 25 times leave its logits as they were (spectral norm divides the scale out), and
    at init they all lay in [0.05, 0.22], so it lost 1 of 2 points, told it ends in a sigmoid, and its step was graded
    with a stand-in D that returns probabilities. Its images scaled up move its logits out of [0, 1]; the same D ending
    in a sigmoid keeps both the deduction and the stand-in's form."""
    sub = kernel_submission(SPECTRAL_NORM_D.replace("<OUT>", out))
    assert matches(run_check(checks.test_discriminator_output, sub), expected)
    assert checks.d_form(sub) == {"column": False, "probabilities": probabilities}


# ---------------------------------------------------------------------------------------------
# Found by red-teaming the checks (session 38): G's step with new labels for the same z
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fake_y, expected", [
    ("y_g", (2.0, "")),
    ("labels", (1.0, "D judges G's images with the real batch's labels: D must judge each fake image with the label G drew "
                     "it for, D(fake, y_fake), in D's step and in G's")),
    ("y_fake", (1.0, "D judges G's images with other labels than G drew them for: D must judge each fake image with the "
                     "label G drew it for, D(fake, y_fake), in D's step and in G's")),
], ids=["right", "g_step_with_real_labels", "g_step_with_d_step_labels"])
def test_g_s_step_on_the_same_noise_with_new_labels_is_judged_by_the_labels_of_each_call(fake_y, expected):
    """G's step drawing new labels y_g for the z of D's step, G(z, y_fake) then G(z, y_g), each batch judged with its
    own labels: right. The stand-in G ignores y, so both calls make the very same images, and D's judging of the second
    batch was matched to the first's labels: 1 of 2 points, told that D judges G's images with other labels than G drew
    them for. The stand-in G now marks a corner pixel with the label, so the two calls' images differ where their labels
    do; G's step judged with D's step's labels, or the real ones, is still told."""
    source = STEP.replace("    loss_g = LOSS.g_loss(D(fake, <FAKE_Y>))",
                          f"    y_g = torch.randint(0, num_classes, (b,))\n    loss_g = LOSS.g_loss(D(G(z, y_g), {fake_y}))")
    source = source.replace("<Y_FAKE>", "torch.randint(0, num_classes, (b,))").replace("<REAL_Y>", "labels").replace(
        "<FAKE_Y>", "y_fake").replace("<G_STEP>", "opt_g.step()")
    assert "D(G(z, y_g), " in source and "<" not in source, source
    sub = kernel_submission(*LABEL_ENCODINGS["category"], source)
    assert matches(run_check(checks.test_step_draws_labels_for_the_fake_batch, sub), expected)
    assert run_check(checks.test_step_shows_real_images_with_their_labels, sub) == (2.0, "")


# ---------------------------------------------------------------------------------------------
# Found by red-teaming the checks for false positives (session 39): a D whose label mixes the batch's, only rescales
# one score of the image, or folds two labels into one; a G that folds two labels; a step that logs D(real, labels)
# and trains D on other labels
# ---------------------------------------------------------------------------------------------

PROJECTION_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.phi = nn.Sequential(*list(Discriminator(ndf, channels=1, size=28).main)[:-1], nn.Flatten())
        self.psi = nn.Linear(ndf * 4 * 4 * 4, 1)
        self.embed = nn.Embedding(num_classes, ndf * 4 * 4 * 4)
        self.apply(weights_init)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x, y):
        h = self.phi(x)
        return <OUT>
'''
LOGIT_SCALED_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.main = Discriminator(ndf, channels=1, size=28).main
        self.scale = nn.Embedding(num_classes, 1)
        self.apply(weights_init)
        nn.init.ones_(self.scale.weight)

    def forward(self, x, y):
        return self.main(x).view(-1) * self.scale(y).view(-1)
'''
LOGIT_PROJECTION_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.phi = Discriminator(ndf, channels=1, size=28).main  # the whole given D: phi(x) is its logit, (N, 1, 1, 1)
        self.psi = nn.Linear(1, 1)
        self.embed = nn.Embedding(num_classes, 1)
        self.apply(weights_init)

    def forward(self, x, y):
        h = self.phi(x).view(-1, 1)
        return (self.psi(h) + (self.embed(y) * h).sum(1, keepdim=True)).view(-1)
'''
LOGIT_HEAD_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.main = Discriminator(ndf, channels=1, size=28).main  # ends in the conv to one channel
        self.head = nn.Sequential(nn.Linear(1 + num_classes, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
        self.apply(weights_init)

    def forward(self, x, y):
        h = self.main(x).view(-1, 1)
        return self.head(torch.cat([h, F.one_hot(y, self.num_classes).float()], 1)).view(-1)
'''
MINIBATCH_STDDEV_D = '''
class ConditionalDiscriminator(nn.Module):
    def __init__(self, ndf=64, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.body = nn.Sequential(*list(Discriminator(ndf, channels=1 + num_classes, size=28).main)[:-1])
        self.last = nn.Conv2d(ndf * 4 + 1, 1, 4, 1, 0, bias=False)
        self.apply(weights_init)

    def forward(self, x, y):
        maps = F.one_hot(y, self.num_classes).float()[:, :, None, None].expand(-1, -1, 28, 28)
        h = self.body(torch.cat([x, maps], 1))
        std = h.std(0, unbiased=False).mean().expand(h.shape[0], 1, h.shape[2], h.shape[3])  # ProGAN's minibatch stddev
        return self.last(torch.cat([h, std], 1)).view(-1)
'''
RESCALED = (
    "D(x, y) changes with y only by rescaling one score of the image: for every label, the logits of a batch of images "
    "are one image score times a number (plus a number) of that label, as when the label multiplies D's final logit or a "
    "projection takes D's one-number output for phi(x); D then ranks the images alike whatever the label, so it cannot "
    "tell whether an image matches its label; let the label meet the image's features in a nonlinear layer (extra input "
    "channels, or an MLP head after the convs), or project onto the features the convs make, <embed(y), phi(x)> with "
    "phi(x) (N, F)"
)
BATCH_LABELS = (
    "in eval mode, D's logit for an image changes when only the other images' labels change (by <n>% of what changing "
    "its own label does): D judges each image with a sum or mean over the batch's labels, as a projection summed with "
    ".sum() and no dim, or an embedding averaged over the batch (embed(y).mean(0)), does; each image must be judged with "
    "its own label only: sum over the features alone, (embed(y) * phi(x)).sum(1), and keep every operation on the labels "
    "row by row"
)


def folded(role: str, pairs: str) -> str:
    """The message of a G or D that folds the labels `pairs` ("8 and 9") into one."""
    if role == "G":
        head, given, cannot = "G(z, y) draws the same images", "the same z with either label gives the same images", "one of them can never be drawn"
    else:
        head, given, cannot = "D(x, y) gives the same logits", "the same images with either label get the same logits", "it cannot tell them apart"
    return (f"{head} for labels {pairs} ({given}): it folds two labels into one, so {cannot} (a one-hot or embedding with "
            f"fewer than num_classes = 10 entries, reached through a clamp or a modulo, as F.one_hot(y.clamp(max=8), 9) or "
            f"y % 9 make it); give every label 0..9 its own entry: F.one_hot(y, num_classes), or nn.Embedding(num_classes, d)")


@pytest.mark.parametrize("source, expected", [
    # measured to learn the labels all the same (5 of 5): every logit gets the batch's whole projection
    (PROJECTION_D.replace("<OUT>", "self.psi(h).view(-1) + (self.embed(y) * h).sum()"), (1.0, BATCH_LABELS)),
    (PROJECTION_D.replace("<OUT>", "self.psi(h).view(-1) + (self.embed(y).mean(0) * h).sum(1)"), (1.0, BATCH_LABELS)),
    # measured at chance (11% and 10%): the label only rescales D's verdict
    (LOGIT_SCALED_D, (0.0, RESCALED)),
    (LOGIT_PROJECTION_D, (0.0, RESCALED)),
    # labels 8 and 9 one entry
    (channels_d(classes="9", one_hot="F.one_hot(y.clamp(max=8), 9)"), (1.0, folded("D", "8 and 9"))),
    # right: the projection's sign is the embedding's to learn; ProGAN's minibatch stddev couples the batch's images,
    # a little (0.2% of an own label's effect), not their labels
    (PROJECTION_D.replace("<OUT>", "self.psi(h).view(-1) - (self.embed(y) * h).sum(1)"), (2.0, "")),
    (MINIBATCH_STDDEV_D, (2.0, "")),
    # right: a D that judges the label at its final logit through an MLP uses it nonlinearly (its learning run fails;
    # the learning hint names it, below)
    (LOGIT_HEAD_D, (2.0, "")),
], ids=["projection_summed_over_the_batch", "embedding_averaged_over_the_batch", "logit_times_a_number_per_class",
        "projection_of_the_final_logit", "labels_8_and_9_folded", "projection_minus", "minibatch_stddev", "label_at_the_final_logit"])
def test_a_d_that_mixes_rescales_or_folds_the_labels_loses_the_label_points(source, expected):
    """Each of the wrong ones scored 2 of 2: a projection summed over the whole batch (.sum() with no dim, every
    logit then holds the batch's labels; it even learns the labels) or with the embedding averaged over the batch
    passes the reversed-batch test (a sum does not change with the order); a label that multiplies D's final logit
    changes D's output differently for different images, as the check asked, though only by rescaling one score
    (measured at chance, like the additive label that costs both points); a one-hot of y.clamp(max=8) makes 8 and 9 one label."""
    sub = kernel_submission(*LABEL_ENCODINGS["category"], source)
    assert matches(run_check(checks.test_discriminator_uses_labels, sub), expected)
    assert run_check(checks.test_discriminator_output, sub) == (2.0, "")


@pytest.mark.parametrize("one_hot, classes, expected", [
    ("F.one_hot(y.clamp(max=8), 9)", "9", (1.0, folded("G", "8 and 9"))),  # measured: learns the labels (5 of 5) all the same
    ("F.one_hot(y % 9, 9)", "9", (1.0, folded("G", "0 and 9"))),
    ("F.one_hot((y + 3) % self.num_classes, self.num_classes)", "num_classes", (2.0, "")),  # the labels permuted: each its own
    ("F.one_hot(y, 11)", "11", (2.0, "")),  # one entry too many, never used: each label its own
], ids=["clamped", "modulo", "permuted", "eleven_entries"])
def test_a_generator_that_folds_two_labels_into_one_keeps_one_label_point(one_hot, classes, expected):
    """G's one-hot of y.clamp(max=8) (9 entries, after "index out of range" for a 9) never draws a 9 apart from an 8,
    and scored 18 of 18: the learning check's agreement allows a label missed. Every pair of labels must now give other
    images for one z."""
    sub = kernel_submission(one_hot_g(classes=classes, one_hot=one_hot), channels_d())
    assert run_check(checks.test_generator_uses_labels_and_noise, sub) == expected
    assert run_check(checks.test_generator_output_shape, sub) == (2.0, "")


LOGGED = "    opt_d.step()\n    d_x = D(real, labels).mean().item()  # for the log\n"
LOGGED_NO_GRAD = "    opt_d.step()\n    with torch.no_grad():\n        d_x = torch.sigmoid(D(real, labels)).mean().item()\n"


@pytest.mark.parametrize("source, expected", [
    (step_with("    opt_d.step()\n", LOGGED, real_y="y_fake"), (0.0, (
        "D judges the real images with the labels drawn for the fake batch, not with their own: D(real, labels) for the "
        "real images, D(fake, y_fake) for G's"))),
    (step_with("    opt_d.step()\n", LOGGED_NO_GRAD, real_y="labels[torch.randperm(b)]"), (0.0, (
        "D judges the real images with their batch's labels in another order (<n> of 150 images with a label that is not "
        "theirs): image i must come with labels[i]; shuffle or index images and labels together, or not at all"))),
    # right: a log with the right labels beside a right loss; D's step skipped in a call by a schedule (read by all its calls)
    (step_with("    opt_d.step()\n", LOGGED_NO_GRAD), (2.0, "")),
    ("CALLS = [0]\n" + step_with("    opt_d.zero_grad()\n    loss_d.backward()\n    opt_d.step()\n",
                                 "    CALLS[0] += 1\n    if CALLS[0] % 2 == 0:\n        opt_d.zero_grad()\n        loss_d.backward()\n"
                                 "        opt_d.step()\n"), (2.0, "")),
], ids=["logged_with_own_labels_trained_with_fake_labels", "logged_without_grad_trained_shuffled", "logged_right",
        "d_every_other_call"])
def test_only_the_calls_whose_logits_train_d_count_for_the_real_pairs(source, expected):
    """A step that logs D(real, labels) (for D(x), after D's step or under torch.no_grad()) and trains D on the real
    images with the fake batch's labels, or with their own shuffled, scored 2 of 2: the logging call gave every real
    image its own label, and the training call was read as a matching-aware D's mismatch term. Only calls whose logits a
    backward() reaches count now (probes_a6.step_calls' "used"), when some do."""
    sub = kernel_submission(*LABEL_ENCODINGS["category"], source)
    assert matches(run_check(checks.test_step_shows_real_images_with_their_labels, sub), expected)


def test_step_calls_marks_the_calls_a_backward_reaches():
    """A call of D whose logits go into a loss that goes backward is used; one under torch.no_grad(), only read
    (.item()), or multiplied by 0 before its backward() is not."""
    import torch.nn.functional as F

    G, D = probes_a6.stand_in_generator(8, 4), probes_a6.stand_in_discriminator(4)
    real, labels = torch.rand(6, 1, 28, 28) * 2 - 1, torch.arange(6)

    def logged(G, D, opt_g, opt_d, real, labels, nz, num_classes):
        loss = F.softplus(-D(real, labels)).mean()
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        with torch.no_grad():
            D(real, labels)
        D(real, labels).mean().item()
        (0 * D(real, labels).sum()).backward()  # a term that only looks used
        return 0.0, 0.0

    record = probes_a6.step_calls(logged, G, D, real, labels, nz=8, seed=0)
    assert [c["used"] for c in record["d_calls"]] == [True, False, False, False]


@pytest.mark.parametrize("source, told", [
    (LOGIT_HEAD_D, "the label reaches D only beside 1 number of the image, joined in `head.0` (Linear(in_features=11, "
                   "out_features=64, bias=True)): D's convs reduce the image to a single score before the label joins (as "
                   "when the label joins the given Discriminator's output, its final logit), so D can rank images by it but "
                   "not tell whether an image matches its label (D built so stayed at chance); join the label earlier: as "
                   "image channels (design 1), to the flattened features of the convs before D's last layer, with an MLP "
                   "head (design 2), or as a projection on them (design 3)"),
    (LOGIT_SCALED_D, RESCALED),
], ids=["label_at_the_final_logit", "logit_times_a_number_per_class"])
def test_a_d_whose_label_meets_one_score_of_the_image_is_named_by_the_learning_hint(source, told):
    """Both stayed at chance in the learning check (1 of 5, "digits"), told only to compare G, D and the step with the
    requirements."""
    assert checks.learning_hint(kernel_submission(*LABEL_ENCODINGS["category"], step(), source)) == told

"""Tests of the losses: GE2E, KD, decoupled KD and self-distillation.

Each loss is compared with a direct, slow computation of its formula written
here with explicit Python loops over speakers, utterances and classes (in
float64), and checked for its limits, its gradients and its errors.

Authors
 * speechbrain-asd developers
"""

import math

import pytest
import torch
import torch.nn.functional as F

from speechbrain_asd.losses import (
    DecoupledKDLoss,
    GE2ELoss,
    KDLoss,
    SelfDistillationLoss,
    decoupled_kd_loss,
    decoupled_kl_parts,
    ge2e_loss,
    ge2e_similarity,
    kd_kl_divergence,
    kd_loss,
    self_distillation_loss,
    self_distillation_terms,
)


def _randn(*shape, seed=0):
    """Returns a float64 standard-normal tensor from a seeded generator.

    Arguments
    ---------
    *shape : int
        The tensor's shape.
    seed : int
        Seed of the generator.

    Returns
    -------
    tensor : torch.Tensor
        Float64 tensor of the given shape.
    """
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


# ----------------------------------------------------------------- slow math
def _softmax(values, temperature=1.0):
    """Softmax of a list of floats, written out.

    Arguments
    ---------
    values : list of float
        The logits.
    temperature : float
        Divides the logits first.

    Returns
    -------
    probs : list of float
        The probabilities.
    """
    scaled = [v / temperature for v in values]
    top = max(scaled)
    exps = [math.exp(v - top) for v in scaled]
    total = sum(exps)
    return [e / total for e in exps]


def _kl(p, q):
    """KL(p || q) of two discrete distributions, written out.

    Arguments
    ---------
    p : list of float
        The reference distribution.
    q : list of float
        The approximating distribution.

    Returns
    -------
    kl : float
        Sum of p_i log(p_i / q_i), with 0 log 0 = 0.
    """
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0)


def _nll(logits, target):
    """Negative log-softmax probability of the target, written out.

    Arguments
    ---------
    logits : list of float
        The logits of one example.
    target : int
        The target class.

    Returns
    -------
    nll : float
        -log softmax(logits)[target].
    """
    return -math.log(_softmax(logits)[target])


def _cosine(a, b):
    """Cosine similarity of two lists of floats, written out.

    Arguments
    ---------
    a : list of float
        First vector.
    b : list of float
        Second vector.

    Returns
    -------
    cos : float
        a.b / (|a| |b|).
    """
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def _slow_ge2e(embeddings, w, b):
    """GE2E similarity matrix and mean loss, with explicit loops.

    Arguments
    ---------
    embeddings : torch.Tensor
        Shape [N, M, D].
    w : float
        Scale.
    b : float
        Bias.

    Returns
    -------
    similarity : list of list of list of float
        S[n][m][k], the own centroid excluding the query.
    loss : float
        Mean over n, m of -S[n][m][n] + log sum_k exp S[n][m][k].
    """
    x = embeddings.tolist()
    n_spk, n_utt, dim = len(x), len(x[0]), len(x[0][0])
    similarity, losses = [], []
    for n in range(n_spk):
        rows = []
        for m in range(n_utt):
            row = []
            for k in range(n_spk):
                members = [j for j in range(n_utt) if k != n or j != m]
                centroid = [
                    sum(x[k][j][d] for j in members) / len(members)
                    for d in range(dim)
                ]
                row.append(w * _cosine(x[n][m], centroid) + b)
            rows.append(row)
            losses.append(-row[n] + math.log(sum(math.exp(s) for s in row)))
        similarity.append(rows)
    return similarity, sum(losses) / len(losses)


def _slow_decoupled_parts(student, teacher, targets, temperature):
    """TCKD and NCKD per example, from explicit probability lists.

    Arguments
    ---------
    student : torch.Tensor
        Student logits [B, C].
    teacher : torch.Tensor
        Teacher logits [B, C].
    targets : torch.Tensor
        Targets [B].
    temperature : float
        Temperature.

    Returns
    -------
    tckd : list of float
        Binary KL per example.
    nckd : list of float
        Non-target KL per example.
    p_target : list of float
        Teacher's target probability at the temperature, per example.
    """
    tckd, nckd, p_target = [], [], []
    for s_row, t_row, t in zip(student.tolist(), teacher.tolist(), targets):
        t = int(t)
        p = _softmax(t_row, temperature)
        q = _softmax(s_row, temperature)
        tckd.append(_kl([p[t], 1 - p[t]], [q[t], 1 - q[t]]))
        others = [i for i in range(len(p)) if i != t]
        p_rest = [p[i] / sum(p[j] for j in others) for i in others]
        q_rest = [q[i] / sum(q[j] for j in others) for i in others]
        nckd.append(_kl(p_rest, q_rest))
        p_target.append(p[t])
    return tckd, nckd, p_target


# ---------------------------------------------------------------------- GE2E
def test_ge2e_matches_slow_formula():
    """Similarity matrix and loss equal the looped computation."""
    embeddings = _randn(3, 4, 5)
    similarity, loss = _slow_ge2e(embeddings, w=7.5, b=-2.0)
    fast = ge2e_similarity(embeddings, w=7.5, b=-2.0)
    assert fast.shape == (3, 4, 3)
    assert torch.allclose(fast, torch.tensor(similarity, dtype=torch.float64))
    fast_loss = ge2e_loss(embeddings, w=7.5, b=-2.0)
    assert fast_loss.item() == pytest.approx(loss, rel=1e-10)


def test_ge2e_reductions():
    """ "none" gives [N, M] per-utterance losses; mean and sum reduce them."""
    embeddings = _randn(3, 4, 5)
    per_utterance = ge2e_loss(embeddings, 10.0, -5.0, reduction="none")
    assert per_utterance.shape == (3, 4)
    total = ge2e_loss(embeddings, 10.0, -5.0, reduction="sum")
    assert torch.allclose(total, per_utterance.sum())
    assert torch.allclose(
        ge2e_loss(embeddings, 10.0, -5.0), per_utterance.mean()
    )


def test_ge2e_own_centroid_excludes_query():
    """With M = 2 the own centroid of a query is the other utterance."""
    embeddings = _randn(3, 2, 4, seed=1)
    similarity = ge2e_similarity(embeddings, w=1.0, b=0.0)
    for n in range(3):
        for m in range(2):
            other = embeddings[n, 1 - m]
            expected = F.cosine_similarity(embeddings[n, m], other, dim=0)
            assert similarity[n, m, n].item() == pytest.approx(
                expected.item(), rel=1e-12
            )
            # Another speaker's centroid keeps both of its utterances.
            k = (n + 1) % 3
            expected_other = F.cosine_similarity(
                embeddings[n, m], embeddings[k].mean(0), dim=0
            )
            assert similarity[n, m, k].item() == pytest.approx(
                expected_other.item(), rel=1e-12
            )


def test_ge2e_module_starts_at_paper_values_and_learns_w_and_b():
    """w = 10, b = -5 at start; both receive gradients."""
    loss_fn = GE2ELoss()
    assert loss_fn.w.item() == pytest.approx(10.0, rel=1e-6)
    assert loss_fn.b.item() == -5.0
    loss = loss_fn(_randn(3, 4, 5).float())
    loss.backward()
    assert loss_fn.w_raw.grad is not None and loss_fn.b.grad is not None
    expected = ge2e_loss(_randn(3, 4, 5).float(), loss_fn.w, loss_fn.b)
    assert torch.allclose(loss, expected)


def test_ge2e_w_stays_positive_after_a_step_pushing_it_negative():
    """An optimizer step far past zero leaves w positive."""
    loss_fn = GE2ELoss()
    optimizer = torch.optim.SGD(loss_fn.parameters(), lr=1000.0)
    (10.0 * loss_fn.w).backward()  # gradient pushes w down by ~1e4
    optimizer.step()
    assert loss_fn.w_raw.item() < -1000.0
    assert loss_fn.w.item() > 0.0
    # And the loss is still finite and usable with this tiny w.
    assert torch.isfinite(loss_fn(_randn(3, 4, 5).float()))


def test_ge2e_lower_when_embeddings_cluster_by_speaker():
    """Embeddings grouped by speaker give a lower loss than mixed ones."""
    centres = _randn(4, 1, 8, seed=2) * 3.0
    clustered = centres + 0.1 * _randn(4, 5, 8, seed=3)
    order = torch.randperm(20, generator=torch.Generator().manual_seed(4))
    mixed = clustered.reshape(20, 8)[order].reshape(4, 5, 8)
    low = ge2e_loss(clustered, 10.0, -5.0)
    high = ge2e_loss(mixed, 10.0, -5.0)
    assert low < 0.1 < high


def test_ge2e_optimizer_steps_on_free_embeddings_reduce_loss():
    """A few Adam steps on free embeddings (and w, b) lower the loss."""
    torch.manual_seed(0)
    embeddings = torch.nn.Parameter(_randn(4, 3, 6, seed=5).float())
    loss_fn = GE2ELoss()
    optimizer = torch.optim.Adam([embeddings, *loss_fn.parameters()], lr=0.05)
    first = loss_fn(embeddings).item()
    for _ in range(30):
        optimizer.zero_grad()
        loss = loss_fn(embeddings)
        loss.backward()
        optimizer.step()
    assert loss_fn(embeddings).item() < 0.5 * first


@pytest.mark.parametrize(
    "embeddings, message",
    [
        (torch.zeros(6, 4), r"\[N speakers, M utterances, D\]"),
        (torch.zeros(1, 4, 3), "at least 2 speakers"),
        (torch.zeros(3, 1, 3), "2 utterances per speaker"),
        (torch.zeros(3, 2, 3, dtype=torch.long), "floating point"),
    ],
)
def test_ge2e_rejects_bad_embeddings(embeddings, message):
    """Bad embedding shapes and dtypes raise a clear error."""
    with pytest.raises(ValueError, match=message):
        ge2e_loss(embeddings, 10.0, -5.0)


def test_ge2e_rejects_bad_parameters():
    """Non-positive w, bad init values and reductions raise clear errors."""
    embeddings = _randn(2, 2, 3)
    with pytest.raises(ValueError, match="w must be > 0, got -1.0"):
        ge2e_loss(embeddings, -1.0, 0.0)
    with pytest.raises(ValueError, match="w must be a scalar"):
        ge2e_loss(embeddings, torch.ones(2), 0.0)
    with pytest.raises(ValueError, match="init_w must be >"):
        GE2ELoss(init_w=0.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        GE2ELoss(reduction="avg")


# ------------------------------------------------------------------------ KD
def _kd_inputs(batch=5, classes=4, seed=10):
    """Student and teacher logits and targets for KD tests.

    Arguments
    ---------
    batch : int
        Batch size.
    classes : int
        Number of classes.
    seed : int
        Seed.

    Returns
    -------
    student : torch.Tensor
        [batch, classes], float64.
    teacher : torch.Tensor
        [batch, classes], float64.
    targets : torch.Tensor
        [batch], long.
    """
    student = 2.0 * _randn(batch, classes, seed=seed)
    teacher = 3.0 * _randn(batch, classes, seed=seed + 1)
    generator = torch.Generator().manual_seed(seed + 2)
    targets = torch.randint(0, classes, (batch,), generator=generator)
    return student, teacher, targets


def test_kd_loss_matches_slow_formula():
    """gamma T^2 KL(p_t || p_s) + (1 - gamma) NLL, batch-averaged."""
    student, teacher, targets = _kd_inputs()
    gamma, temperature = 0.3, 2.5
    expected = []
    for s_row, t_row, t in zip(student.tolist(), teacher.tolist(), targets):
        kl = _kl(_softmax(t_row, temperature), _softmax(s_row, temperature))
        nll = _nll(s_row, int(t))
        expected.append(gamma * temperature**2 * kl + (1 - gamma) * nll)
    per_example = kd_loss(
        student, teacher, targets, temperature, gamma, reduction="none"
    )
    assert per_example.tolist() == pytest.approx(expected, rel=1e-10)
    mean = kd_loss(student, teacher, targets, temperature, gamma)
    assert mean.item() == pytest.approx(sum(expected) / len(expected))
    total = kd_loss(student, teacher, targets, temperature, gamma, "sum")
    assert total.item() == pytest.approx(sum(expected))


def test_kd_limits():
    """gamma = 0 is the NLL; identical logits give a zero KL part."""
    student, teacher, targets = _kd_inputs()
    nll = F.nll_loss(F.log_softmax(student, dim=-1), targets)
    assert torch.allclose(kd_loss(student, teacher, targets, gamma=0.0), nll)
    assert kd_kl_divergence(student, student.clone(), 3.0).item() == 0.0
    only_kl = kd_loss(student, student.clone(), targets, 3.0, gamma=1.0)
    assert only_kl.abs().item() < 1e-12
    # gamma = 1 is T^2 times the KL.
    kl = kd_kl_divergence(student, teacher, 4.0)
    assert torch.allclose(
        kd_loss(student, teacher, targets, 4.0, gamma=1.0), 16.0 * kl
    )


def test_kd_training_drives_a_student_to_its_teacher():
    """Minimising the KD loss (gamma 1, T 5) fits the teacher's softened
    outputs: the KL of a linear student falls a hundredfold."""
    torch.manual_seed(0)
    inputs = torch.randn(64, 6)
    teacher = torch.nn.Linear(6, 8)
    student = torch.nn.Linear(6, 8)
    with torch.no_grad():
        teacher_logits = 3 * teacher(inputs)
    targets = teacher_logits.argmax(dim=1)
    loss = KDLoss(temperature=5.0, gamma=1.0)
    start = kd_kl_divergence(student(inputs), teacher_logits, 5.0).item()
    optimiser = torch.optim.Adam(student.parameters(), lr=0.05)
    for _ in range(300):
        optimiser.zero_grad()
        loss(student(inputs), teacher_logits, targets).backward()
        optimiser.step()
    end = kd_kl_divergence(student(inputs), teacher_logits, 5.0).item()
    assert end < start / 100


def test_kd_gradient_never_reaches_the_teacher():
    """Teacher logits are detached; the student gets a gradient."""
    student, teacher, targets = _kd_inputs()
    student.requires_grad_(True)
    teacher.requires_grad_(True)
    kd_loss(student, teacher, targets).backward()
    decoupled_kd_loss(student, teacher, targets).backward()
    assert teacher.grad is None
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_kd_accepts_speechbrain_style_targets():
    """Targets of shape [B, 1] give the same loss as [B]."""
    student, teacher, targets = _kd_inputs()
    assert torch.equal(
        kd_loss(student, teacher, targets),
        kd_loss(student, teacher, targets.unsqueeze(1)),
    )


def test_decoupled_parts_match_slow_formula():
    """TCKD and NCKD equal the binary and renormalised non-target KLs."""
    student, teacher, targets = _kd_inputs(classes=6)
    tckd, nckd = decoupled_kl_parts(student, teacher, targets, 2.0)
    slow_t, slow_n, _ = _slow_decoupled_parts(student, teacher, targets, 2.0)
    assert tckd.tolist() == pytest.approx(slow_t, rel=1e-9)
    assert nckd.tolist() == pytest.approx(slow_n, rel=1e-9)


def test_kl_is_tckd_plus_weighted_nckd():
    """The true identity: KL = TCKD + (1 - p_target_teacher) * NCKD."""
    student, teacher, targets = _kd_inputs(classes=8)
    temperature = 3.0
    kl = kd_kl_divergence(student, teacher, temperature, reduction="none")
    tckd, nckd = decoupled_kl_parts(student, teacher, targets, temperature)
    _, _, p_target = _slow_decoupled_parts(
        student, teacher, targets, temperature
    )
    weight = 1.0 - torch.tensor(p_target, dtype=torch.float64)
    assert torch.allclose(kl, tckd + weight * nckd, rtol=1e-10)
    # Hence alpha = beta = 1 is not plain KD: it adds gamma T^2 p_t NCKD.
    gamma = 0.5
    plain = kd_loss(student, teacher, targets, temperature, gamma, "none")
    decoupled = decoupled_kd_loss(
        student, teacher, targets, temperature, gamma, 1.0, 1.0, "none"
    )
    extra = gamma * temperature**2 * (1.0 - weight) * nckd
    assert torch.allclose(decoupled - plain, extra, rtol=1e-9)
    assert (extra > 0).all()


def test_decoupled_kd_loss_matches_slow_formula_and_limits():
    """gamma T^2 (alpha TCKD + beta NCKD) + (1 - gamma) NLL; limits."""
    student, teacher, targets = _kd_inputs(classes=5)
    temperature, gamma, alpha, beta = 2.0, 0.4, 0.5, 6.0
    slow_t, slow_n, _ = _slow_decoupled_parts(
        student, teacher, targets, temperature
    )
    expected = [
        gamma * temperature**2 * (alpha * tc + beta * nc)
        + (1 - gamma) * _nll(row, int(t))
        for tc, nc, row, t in zip(slow_t, slow_n, student.tolist(), targets)
    ]
    loss = decoupled_kd_loss(
        student, teacher, targets, temperature, gamma, alpha, beta, "none"
    )
    assert loss.tolist() == pytest.approx(expected, rel=1e-9)
    # Identical logits: both parts vanish, only the NLL remains.
    tckd, nckd = decoupled_kl_parts(student, student.clone(), targets, 2.0)
    assert tckd.abs().max() < 1e-12 and nckd.abs().max() < 1e-12
    # Two classes: there is no non-target distribution, KL is all TCKD.
    two = student[:, :2]
    two_targets = targets % 2
    tckd, nckd = decoupled_kl_parts(two, teacher[:, :2], two_targets, 2.0)
    assert torch.equal(nckd, torch.zeros_like(nckd))
    assert torch.allclose(
        tckd, kd_kl_divergence(two, teacher[:, :2], 2.0, reduction="none")
    )


def test_distillation_modules_equal_functions():
    """KDLoss and DecoupledKDLoss call the functional forms."""
    student, teacher, targets = _kd_inputs()
    assert torch.equal(
        KDLoss(3.0, 0.7)(student, teacher, targets),
        kd_loss(student, teacher, targets, 3.0, 0.7),
    )
    assert torch.equal(
        DecoupledKDLoss(3.0, 0.7, 2.0, 4.0)(student, teacher, targets),
        decoupled_kd_loss(student, teacher, targets, 3.0, 0.7, 2.0, 4.0),
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gamma": 1.5}, r"gamma must be in \[0.0, 1.0\], got 1.5"),
        ({"gamma": -0.1}, "gamma must be in"),
        ({"temperature": 0.0}, r"temperature must be in \(0.0, inf\]"),
        ({"temperature": float("nan")}, "temperature must be finite"),
        ({"alpha": -1.0}, "alpha must be in"),
        ({"beta": "8"}, "beta must be a real number"),
        ({"reduction": "avg"}, "reduction must be one of"),
    ],
)
def test_decoupled_kd_rejects_bad_hyperparameters(kwargs, message):
    """Out-of-range hyperparameters raise errors that name them."""
    student, teacher, targets = _kd_inputs()
    with pytest.raises(ValueError, match=message):
        decoupled_kd_loss(student, teacher, targets, **kwargs)
    kd_kwargs = {k: v for k, v in kwargs.items() if k not in ("alpha", "beta")}
    if kd_kwargs:
        with pytest.raises(ValueError, match=message):
            kd_loss(student, teacher, targets, **kd_kwargs)


@pytest.mark.parametrize(
    "student, teacher, targets, message",
    [
        (
            torch.zeros(3, 4),
            torch.zeros(3, 5),
            torch.zeros(3, dtype=torch.long),
            r"must have the same shape, got \[3, 4\] and \[3, 5\]",
        ),
        (
            torch.zeros(4),
            torch.zeros(4),
            torch.zeros(1, dtype=torch.long),
            r"student_logits must have shape \[batch, classes\]",
        ),
        (
            torch.zeros(3, 1),
            torch.zeros(3, 1),
            torch.zeros(3, dtype=torch.long),
            "at least 1 row and 2 classes",
        ),
        (
            torch.zeros(3, 4),
            torch.zeros(3, 4),
            torch.tensor([0, 1, 4]),
            r"targets must lie in \[0, 4\), got values from 0 to 4",
        ),
        (
            torch.zeros(3, 4),
            torch.zeros(3, 4),
            torch.zeros(2, dtype=torch.long),
            r"targets must have shape \[3\] or \[3, 1\]",
        ),
        (
            torch.zeros(3, 4),
            torch.zeros(3, 4),
            torch.zeros(3),
            "targets must hold integer class indices",
        ),
    ],
)
def test_distillation_rejects_bad_tensors(student, teacher, targets, message):
    """Shape, dtype and range errors are caught before any computation."""
    for loss in (kd_loss, decoupled_kd_loss):
        with pytest.raises(ValueError, match=message):
            loss(student, teacher, targets)


# --------------------------------------------------------- self-distillation
def _exits(dims=(3, 4, 5), batch=4, classes=6, seed=20):
    """Random (logits, feature) exits, shallow to deep, and targets.

    Arguments
    ---------
    dims : tuple of int
        Feature size of each exit.
    batch : int
        Batch size.
    classes : int
        Number of classes.
    seed : int
        Seed.

    Returns
    -------
    exits : list of (torch.Tensor, torch.Tensor)
        Float64 logits [batch, classes] and features [batch, dim].
    targets : torch.Tensor
        [batch], long.
    """
    exits = [
        (
            _randn(batch, classes, seed=seed + 2 * i),
            _randn(batch, dim, seed=seed + 2 * i + 1),
        )
        for i, dim in enumerate(dims)
    ]
    generator = torch.Generator().manual_seed(seed + 99)
    targets = torch.randint(0, classes, (batch,), generator=generator)
    return exits, targets


def test_self_distillation_matches_slow_formula():
    """The module's loss equals the formula of its docstring, looped."""
    torch.manual_seed(0)
    exits, targets = _exits()
    loss_fn = SelfDistillationLoss(
        [3, 4, 5], temperature=2.0, alpha=0.3, feature_weight=0.2
    ).double()
    deep_logits, deep_feature = exits[-1]
    expected = []
    for b in range(len(targets)):
        t = int(targets[b])
        total = _nll(deep_logits[b].tolist(), t)
        for (logits, feature), projection in zip(
            exits[:-1], loss_fn.projections
        ):
            weight, bias = projection.weight.tolist(), projection.bias.tolist()
            projected = [
                sum(w * f for w, f in zip(row, feature[b].tolist())) + c
                for row, c in zip(weight, bias)
            ]
            distance = sum(
                (p - d) ** 2
                for p, d in zip(projected, deep_feature[b].tolist())
            ) / len(projected)
            kl = _kl(
                _softmax(deep_logits[b].tolist(), 2.0),
                _softmax(logits[b].tolist(), 2.0),
            )
            total += (
                0.7 * _nll(logits[b].tolist(), t)
                + 0.3 * 4.0 * kl
                + 0.2 * distance
            )
        expected.append(total)
    loss = loss_fn(exits, targets)
    assert loss.item() == pytest.approx(sum(expected) / len(expected))


def test_self_distillation_terms_vanish_when_shallow_equals_deep():
    """Same logits and features with an identity projection: no KL, no MSE."""
    exits, targets = _exits(dims=(5,))
    logits, feature = exits[0]
    loss_fn = SelfDistillationLoss([5, 5], alpha=0.25).double()
    with torch.no_grad():
        loss_fn.projections[0].weight.copy_(torch.eye(5))
        loss_fn.projections[0].bias.zero_()
    same = [(logits, feature), (logits.clone(), feature.clone())]
    terms = self_distillation_terms(same, targets, loss_fn.projections)
    assert terms["kl"].abs().max() < 1e-12
    assert terms["feature"].abs().max() < 1e-12
    assert torch.allclose(terms["shallow_nll"], terms["deep_nll"])
    nll = F.cross_entropy(logits, targets)
    assert torch.allclose(loss_fn(same, targets), (2.0 - 0.25) * nll)


def test_self_distillation_gradients_skip_the_deepest_exit():
    """Distillation terms give no gradient to the deepest logits/feature."""
    exits, targets = _exits()
    leaves = [
        (logits.requires_grad_(True), feature.requires_grad_(True))
        for logits, feature in exits
    ]
    projections = [
        torch.nn.Linear(3, 5).double(),
        torch.nn.Linear(4, 5).double(),
    ]
    terms = self_distillation_terms(leaves, targets, projections, 2.0)
    (terms["kl"] + terms["feature"]).sum().backward()
    deep_logits, deep_feature = leaves[-1]
    assert deep_logits.grad is None and deep_feature.grad is None
    for logits, feature in leaves[:-1]:
        assert logits.grad.abs().sum() > 0 and feature.grad.abs().sum() > 0
    # In the full loss, the deepest logits get exactly the NLL gradient.
    deep_logits.grad = None
    self_distillation_loss(leaves, targets, projections).backward()
    nll_grad = torch.autograd.grad(
        F.cross_entropy(deep_logits, targets), deep_logits
    )[0]
    assert torch.allclose(deep_logits.grad, nll_grad)
    assert deep_feature.grad is None


def test_self_distillation_module_owns_trainable_projections():
    """One Linear(D_k, D_K) per shallow exit, registered as parameters."""
    loss_fn = SelfDistillationLoss([16, 32, 64])
    shapes = [tuple(p.shape) for p in loss_fn.parameters()]
    assert shapes == [(64, 16), (64,), (64, 32), (64,)]
    assert "projections.0.weight" in loss_fn.state_dict()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda e: e[:1], "at least two"),
        (
            lambda e: [e[0], (e[1][0][:, :3], e[1][1]), e[2]],
            "exits.1. logits and the deepest logits must have the same shape",
        ),
        (
            lambda e: [e[0], (e[1][0], e[1][1].unsqueeze(0)), e[2]],
            r"exits\[1\] feature must be a float tensor of shape \[4, D\]",
        ),
        (
            lambda e: [e[0], (e[1][0], torch.zeros(4, 7)), e[2]],
            r"exits have feature sizes \[3, 7, 5\]",
        ),
        (lambda e: [e[0], e[1], e[2][0]], r"exits\[2\] must be a"),
    ],
)
def test_self_distillation_rejects_bad_exits(build, message):
    """Malformed exits raise errors that say which exit is wrong."""
    exits, targets = _exits()
    loss_fn = SelfDistillationLoss([3, 4, 5]).double()
    with pytest.raises(ValueError, match=message):
        loss_fn(build(exits), targets)


def test_self_distillation_rejects_bad_arguments():
    """Projection count and shape, hyperparameters and dims are checked."""
    exits, targets = _exits()
    with pytest.raises(ValueError, match="one entry per shallow exit"):
        self_distillation_loss(exits, targets, [torch.nn.Identity()])
    with pytest.raises(
        ValueError, match="projected feature of exit 0 and the deepest"
    ):
        self_distillation_loss(
            exits, targets, [torch.nn.Identity(), torch.nn.Identity()]
        )
    with pytest.raises(ValueError, match="alpha must be in"):
        SelfDistillationLoss([3, 5], alpha=2.0)
    with pytest.raises(ValueError, match="feature_dims must list"):
        SelfDistillationLoss([5])
    with pytest.raises(ValueError, match="feature_dims must list"):
        SelfDistillationLoss([3, 0])

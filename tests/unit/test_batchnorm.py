"""Tests of the BatchNorm recalibration.

Authors
 * speechbrain-asd developers
"""

import torch

from speechbrain_asd.batchnorm import recalibrate_batchnorm


def test_statistics_become_the_data_average_and_settings_come_back():
    """Running statistics are the average over the batches; momentum, mode
    and weights are restored; eval outputs then match the data."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv1d(2, 3, 1), torch.nn.BatchNorm1d(3, momentum=0.3)
    ).eval()
    weights = [p.clone() for p in model.parameters()]
    batches = [3.0 * torch.randn(4, 2, 5) + 7.0 for _ in range(3)]
    assert recalibrate_batchnorm(model, batches, model) == 3
    norm = model[1]
    assert norm.momentum == 0.3 and not model.training
    assert norm.num_batches_tracked.item() == 3
    activations = [model[0](b).detach() for b in batches]
    means = torch.stack([a.mean(dim=(0, 2)) for a in activations]).mean(0)
    variances = torch.stack(
        [a.transpose(0, 1).reshape(3, -1).var(dim=1) for a in activations]
    ).mean(0)
    torch.testing.assert_close(norm.running_mean, means)
    torch.testing.assert_close(norm.running_var, variances)
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    out = model(torch.cat(batches))
    assert out.mean().abs() < 0.1 and (out.std() - 1.0).abs() < 0.1


def test_model_without_batchnorm_is_untouched():
    """No BatchNorm: nothing runs and nothing changes."""
    calls = []
    model = torch.nn.Linear(2, 2)
    assert recalibrate_batchnorm(model, [1, 2], calls.append) == 0
    assert calls == []

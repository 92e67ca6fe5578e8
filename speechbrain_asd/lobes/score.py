"""The bona fide score of an N-way countermeasure output.

Authors
 * speechbrain-asd developers
"""

import torch


def bonafide_score(logits, bonafide_index=0):
    """Returns the bona fide log-odds of each row of raw logits.

    ``z_bonafide - logsumexp(other logits)``, that is ``log p - log(1 - p)``
    of the bona fide posterior ``p``, computed stably.

    Arguments
    ---------
    logits : torch.Tensor
        Raw class scores, shape [batch, n_classes] with n_classes >= 2.
    bonafide_index : int
        Column of the bona fide class.

    Returns
    -------
    torch.Tensor
        Shape [batch]; higher means more bona fide.

    Example
    -------
    >>> logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    >>> bonafide_score(logits)
    tensor([ 1.3069, -1.6931])
    """
    if logits.dim() != 2 or logits.shape[1] < 2:
        raise ValueError(
            "bonafide_score expects logits of shape [batch, n_classes >= 2], "
            f"got {tuple(logits.shape)}"
        )
    n_classes = logits.shape[1]
    if not -n_classes <= bonafide_index < n_classes:
        raise ValueError(
            f"bonafide_index {bonafide_index} out of range for "
            f"{n_classes} classes"
        )
    bonafide_index %= n_classes
    keep = [i for i in range(n_classes) if i != bonafide_index]
    spoof = torch.logsumexp(logits[:, keep], dim=1)
    return logits[:, bonafide_index] - spoof

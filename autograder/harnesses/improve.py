"""Harnesses for the Improve level (rules in ``autograder/harnesses/__init__.py``)."""


def distillation_run(fn, *, student, teacher, labels, temperature, alpha):
    """Call the learner's ``distillation_loss(student_logits, teacher_logits, labels, temperature, alpha)`` on
    torch tensors built from plain lists; return the loss and its gradient with respect to the student's logits
    (plain floats), or the error it raised."""
    import math
    import warnings

    import torch

    s = torch.tensor(student, dtype=torch.float32, requires_grad=True)
    t = torch.tensor(teacher, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.long)
    try:
        with warnings.catch_warnings():   # a learner's warning must not reach a graded cell's stderr
            warnings.simplefilter("ignore")
            loss = fn(s, t, y, float(temperature), float(alpha))
    except NotImplementedError:
        return {"error": "not implemented yet (remove `raise NotImplementedError()`)"}
    except Exception as exc:  # noqa: BLE001
        return {"error": f"raised {type(exc).__name__}: {exc}"}
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""
        return {"error": f"returned {type(loss).__name__}{shape}; return the loss as a one-element torch tensor "
                         "(a mean over the batch: kl_div with reduction='batchmean', cross_entropy's default mean) "
                         "so that .backward() can train the student"}
    value = float(loss.detach())
    grad = None
    if loss.requires_grad:
        try:
            loss.backward()
            grad = [[float(v) for v in row] for row in s.grad] if s.grad is not None else None
        except Exception:  # noqa: BLE001
            grad = None
    return {"loss": value if math.isfinite(value) else None, "grad": grad}

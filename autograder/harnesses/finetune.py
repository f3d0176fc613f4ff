"""Harnesses for the Fine-tuning level (rules in ``autograder/harnesses/__init__.py``)."""


def train_step_run(fn, *, seed: int = 0, steps: int = 4, batch_size: int = 6):
    """Call the learner's ``train_step(model, batch, optimizer, scheduler)`` ``steps`` times on a tiny seeded
    model (embedding bag + linear head, the same call signature as the course's PooledClassifier) with plain SGD
    and a decaying LambdaLR schedule. Returns what came back each time (as a float, or None, and its type), the
    learning rate and a fingerprint of the weights after each call, and the final weights -- plain data the check compares with the reference step."""
    import math
    import warnings

    import torch

    torch.manual_seed(seed)

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(30, 8)
            self.head = torch.nn.Linear(8, 2)

        def forward(self, input_ids, attention_mask, labels=None):
            m = attention_mask.unsqueeze(-1).float()
            return self.head((self.emb(input_ids) * m).sum(1) / m.sum(1).clamp_min(1.0))

    model = Tiny().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1.0 + s))
    g = torch.Generator().manual_seed(seed + 1)
    losses, lrs, errors, returned, fingerprints = [], [], [], [], []
    for _ in range(steps):
        ids = torch.randint(1, 30, (batch_size, 7), generator=g)
        mask = (torch.rand(batch_size, 7, generator=g) > 0.3).long()
        mask[:, 0] = 1
        labels = torch.randint(0, 2, (batch_size,), generator=g)
        try:
            with warnings.catch_warnings():   # a learner's warning must not reach a graded cell's stderr
                warnings.simplefilter("ignore")
                out = fn(model, {"input_ids": ids, "attention_mask": mask, "labels": labels}, opt, sched)
            returned.append(type(out).__name__ + (f" of shape {tuple(out.shape)}" if hasattr(out, "shape") else ""))
            try:  # what came back is judged by the check; a step that ran is not an error
                if isinstance(out, (str, bytes)):
                    raise TypeError("a loss is a number, not text")
                value = float(out.detach() if hasattr(out, "detach") else out)
                losses.append(value if math.isfinite(value) else None)
            except Exception:  # noqa: BLE001 -- None, a list, a tensor of several values
                losses.append(None)
        except NotImplementedError:
            errors.append("not implemented yet (remove `raise NotImplementedError()`)")
            losses.append(None)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"raised {type(exc).__name__}: {exc}")
            losses.append(None)
        lrs.append(float(opt.param_groups[0]["lr"]))
        with torch.no_grad():  # the weights after each call, in two numbers
            fingerprints.append([float(sum(p.double().sum() for p in model.parameters())),
                                 float(sum(p.double().abs().sum() for p in model.parameters()))])
    weights = [float(x) for p in model.parameters() for x in p.detach().flatten()]
    return {"losses": losses, "lrs": lrs, "weights": weights, "errors": errors, "returned": returned,
            "fingerprints": fingerprints}

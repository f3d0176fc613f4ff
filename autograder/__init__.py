"""The curriculum's autograder: recomputes every submitted number, never trusts a claim.

* ``python -m autograder grade SUBMISSION --stage STAGE`` -- one submission (see ``__main__``)
* :mod:`autograder.stages` -- the stages (dataset, split, metric, target, tolerance, points), in one place
* :mod:`autograder.checks` -- the checks that notebooks' hidden tests call, with numeric partial credit
"""

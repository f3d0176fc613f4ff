"""Course tooling that learners never install: the papermill runner (:mod:`tools.curriculum`), the book
generator (:mod:`tools.book`) and the benchmark harness (:mod:`tools.benchmark`)."""

#!/usr/bin/env bash
# The one CI script: both jobs of .github/workflows/ci.yml call it, and so can anyone locally.
#
#   scripts/ci.sh cpu [options]   tests, every notebook at --size small on the CPU, the book (-W) and its links
#   scripts/ci.sh gpu [options]   every solution notebook at --size full with device=cuda, then the autograder
#                                 grades each notebook's submission.json: any stage below its target fails the job
# options:
#   --levels a,b | cheapest   only these levels (default: all in curriculum.yml; cheapest = fewest minutes)
#   --profile auto|online|offline   resource profile (default: $TEXTCLASS_PROFILE or auto)
#   --skip-tests | --tests    pytest off | on (default: on for cpu, off for gpu)
#   --skip-notebooks          do not execute notebooks   --skip-book   do not build the book
#   --dry-run                 print the commands, run nothing
#
# Outputs (nothing tracked changes): _build/runs/{executed,results}/, _build/runs/<level>/submission.json,
# _build/ci/grades/*.json, the book in _build/runs/_build/html. The workflow uploads _build/runs and _build/ci.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}; shift || true
case "$mode" in cpu|gpu) ;; *) awk 'NR>1 && !/^#/{exit} NR>1' "$0"; exit 2 ;; esac
levels="" profile=${TEXTCLASS_PROFILE:-auto} dry=0 notebooks=1 bookb=1
[ "$mode" = cpu ] && tests=1 || tests=0  # the gpu job runs notebooks, not the test suite
while [ $# -gt 0 ]; do
  case "$1" in
    --levels) levels=$2; shift ;;
    --levels=*) levels=${1#*=} ;;
    --profile) profile=$2; shift ;;
    --profile=*) profile=${1#*=} ;;
    --dry-run) dry=1 ;;
    --skip-tests) tests=0 ;;
    --tests) tests=1 ;;
    --skip-notebooks) notebooks=0 ;;
    --skip-book) bookb=0 ;;
    *) echo "scripts/ci.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$mode" = cpu ]; then size=small device=cpu; else size=full device=cuda; fi

VENV=${TEXTCLASS_VENV:-.venv}
PY="$VENV/bin/python"

run() {  # print a step, then run it unless --dry-run
  echo "+ $*"
  [ "$dry" = 1 ] || "$@"
}

run ./course setup
[ -x "$PY" ] || PY=python3  # --dry-run before any setup
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ "$mode" = gpu ] && [ "$dry" = 0 ] && [ "$notebooks" = 1 ]; then
  # fail fast, before any notebook (only when notebooks run on the GPU): a CPU-only torch or a runner without a visible GPU
  if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    "$PY" -c "import torch; print(f'ci gpu: torch {torch.__version__} (CUDA build: {torch.version.cuda or \"none, a CPU-only wheel\"}) sees no CUDA GPU.')" >&2 || true
    cat >&2 <<'MSG'
ci gpu: torch.cuda.is_available() is False, so the gpu job cannot run. What to do:
  * check the runner has an NVIDIA GPU and driver: nvidia-smi must list it;
  * install the CUDA build of torch: the PyPI wheel of the pinned version is the CUDA build
    (pip install --force-reinstall torch==2.13.0 from https://pypi.org/simple); a CPU-only wheel
    (from https://download.pytorch.org/whl/cpu or a local index) never sees a GPU;
  * in a container, pass the GPU through (docker run --gpus all ...);
  * or run the CPU job instead: scripts/ci.sh cpu
MSG
    exit 1
  fi
fi
if [ "$levels" = cheapest ]; then
  levels=$("$PY" -m tools levels --ids --cheapest)
fi
ids=${levels//,/ }
echo "ci: mode=$mode size=$size device=$device profile=$profile levels: ${ids:-all}"

status=0
if [ "$tests" = 1 ]; then
  run ./course test -q
fi

RUN=_build/runs
if [ "$notebooks" = 1 ]; then
  # the runner: each level's small/full parameters, the profile, the device; into the run folder $RUN
  run ./course run $ids --size "$size" --profile "$profile" --device "$device" --out "$RUN" --no-progress || status=1
fi

if [ "$mode" = gpu ]; then
  # the autograder grades each level's submission.json against that level's stage (autograder/stages.py:
  # the stage whose `level` is the level, or the stage named like it); any miss fails the job
  mkdir -p _build/ci/grades
  stages=$("$PY" -m tools levels --stages)  # "level stage" lines, from autograder/stages.py
  for id in ${ids:-$("$PY" -m tools levels --ids)}; do
    sub=$RUN/$id/submission.json
    if [ "$dry" = 0 ] && [ ! -f "$sub" ]; then echo "ci: level $id wrote no submission.json: nothing to grade"; continue; fi
    stage=$(awk -v l="$id" '$1 == l {print $2}' <<<"$stages")
    [ -n "$stage" ] || { echo "ci: level $id has no stage in autograder/stages.py: nothing to grade"; continue; }
    # exit 0: passed; 1: graded, below target; 2: invalid submission
    run ./course grade "$sub" --stage "$stage" --json "_build/ci/grades/$id.json" || {
      echo "ci: level $id missed the target of stage $stage (or its submission is invalid)" >&2; status=1; }
  done
fi

if [ "$bookb" = 1 ]; then
  if [ "$notebooks" = 1 ]; then run ./course book --run "$RUN" --strict; html=$RUN/_build/html
  else run ./course book --strict; html=_build/html; fi
  run ./course book --check-links "$html"
fi

[ "$status" = 0 ] && echo "ci: $mode passed" || echo "ci: $mode FAILED (see above)" >&2
exit "$status"

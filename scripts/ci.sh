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
# Outputs: book/executed/*.ipynb, results/*.json, _build/runs/<level>/submission.json, _build/ci/grades/*.json,
# _build/html (the book). The workflow uploads book/executed, results and _build/ci as artifacts.
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
if [ -z "${TEXTCLASS_DATA_DIR:-}" ] && [ -d ../shared/data ]; then export TEXTCLASS_DATA_DIR=$(cd ../shared/data && pwd); fi

run() {  # print a step, then run it unless --dry-run
  echo "+ $*"
  [ "$dry" = 1 ] || "$@"
}

run ./course setup
[ -x "$PY" ] || PY=python3  # --dry-run before any setup
if [ "$mode" = gpu ] && [ "$dry" = 0 ]; then
  # fail fast, before any notebook: a CPU-only torch or a runner without a visible GPU
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
  levels=$("$PY" -c "from tools.curriculum import levels; print(min(levels(), key=lambda l: l.minutes).id)")
fi
ids=$("$PY" - "$levels" <<'PY'
import sys
from tools.curriculum import get_level, levels
wanted = [x for x in sys.argv[1].split(",") if x]
print(" ".join(get_level(i).id for i in wanted) if wanted else " ".join(l.id for l in levels()))
PY
)
echo "ci: mode=$mode size=$size device=$device profile=$profile levels: $ids"

status=0
if [ "$tests" = 1 ]; then
  run ./course test -q
fi

if [ "$notebooks" = 1 ]; then
  for id in $ids; do
    # papermill via tools.curriculum.execute: the level's small/full parameters, the profile, the device
    run "$PY" -c "import sys; from tools.curriculum import get_level, execute; lv = get_level(sys.argv[1]); \
execute(lv, lv.executed, size='$size', profile='$profile', extra={'device': '$device'})" "$id"
  done
fi

if [ "$mode" = gpu ]; then
  # the autograder grades each level's submission.json against the stage it names; any miss fails the job
  mkdir -p _build/ci/grades
  for id in $ids; do
    sub=_build/runs/$id/submission.json
    if [ "$dry" = 0 ] && [ ! -f "$sub" ]; then echo "ci: level $id wrote no submission.json: nothing to grade"; continue; fi
    stage=$([ "$dry" = 1 ] && echo '<its stage>' || "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['stage'])" "$sub")
    # exit 0: passed; 1: graded, below target; 2: invalid submission
    run "$PY" -m autograder grade "$sub" --stage "$stage" --json "_build/ci/grades/$id.json" || {
      echo "ci: level $id missed the target of stage $stage (or its submission is invalid)" >&2; status=1; }
  done
fi

if [ "$bookb" = 1 ]; then
  run "$PY" -m tools.book
  run "$VENV/bin/jupyter-book" build . --path-output . -W -n --keep-going
  run "$PY" -m tools.book --check-links _build/html
fi

[ "$status" = 0 ] && echo "ci: $mode passed" || echo "ci: $mode FAILED (see above)" >&2
exit "$status"

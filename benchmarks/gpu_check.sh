#!/usr/bin/env bash
# The GPU check in one command: install, gpu-marked tests, engine benchmark (MuJoCo Warp next to
# the batched CPU engine on this machine's cores), kernel load times and training to the
# targets, every part under its own time limit, all under 8 minutes.
#
#   bash benchmarks/gpu_check.sh [--small] [--only PART] [--stage] [OUTDIR]
#
# OUTDIR (default: $OUT, else /tmp/robopg-gpu-check) receives at most three files, rewritten
# after every part, so a stopped check still leaves the parts it finished:
#   summary.md    the targets (met / not met / not measured) and every table
#   results.json  every number
#   logs.tar.gz   each part's log and raw JSON
# Parts, in order (PART for --only): setup (always run: the packages from .whl/ parts,
# versions), compile (cold and warm kernel load per task; fills the Warp cache the later parts
# use), tests (pytest -m gpu), bench (benchmarks/gpu.py at 1,024 to 65,536 worlds), train
# (benchmarks/gpu_train.py). A part that fails or runs out of time is reported; the rest go on.
# --only PART reruns one part; on the same warm machine the summary keeps the earlier parts.
# --small: a smoke run on Warp's CPU device (tiny sizes, seconds), what CI tests.
# --stage: only copy the .whl/part* carried by this call aside (the calls before the last one
#   when the packages travel in several parts; see benchmarks/gpu_wheels.sh).
# Environment: PYTHON (default python3), WORK (the parts' raw files), TOTAL_S (the whole check's
# limit, 465 s), REACHER_BUDGET and PUSHER_BUDGET (training seconds, 45 and 50).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}
SMALL=0 ONLY="" STAGE=0 DEST=""
while (($#)); do
  case "$1" in
    --small) SMALL=1 ;;
    --only) ONLY=${2:-}; shift ;;
    --stage) STAGE=1 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option '$1'; use --small, --only PART, --stage or an output folder." >&2; exit 2 ;;
    *) DEST=$1 ;;
  esac
  shift
done
case "$ONLY" in
  "" | setup | compile | tests | bench | train) ;;
  *) echo "gpu_check.sh: --only takes setup, compile, tests, bench or train, not '$ONLY'." >&2; exit 2 ;;
esac
OUTDIR=${DEST:-${OUT:-/tmp/robopg-gpu-check}}
BASE=${TMPDIR:-/tmp}/robopg-gpu
PARTS_DIR=$BASE/parts SITE=$BASE/site
if ((SMALL)); then WORK=${WORK:-$BASE/work-small}; else WORK=${WORK:-$BASE/work}; fi
mkdir -p "$OUTDIR" "$WORK" "$PARTS_DIR"
export PYTHONUNBUFFERED=1
T0=$(date +%s)
TOTAL_S=${TOTAL_S:-465}

# -- packages: .whl/part* parts (benchmarks/gpu_wheels.sh), staged aside, then unpacked once ----
stage() {
  local d n=0
  for d in .whl/part*/; do
    [[ -f "$d/MANIFEST" ]] || continue
    cp "$d"/site.tar.xz.* "$d/MANIFEST" "$PARTS_DIR/" && n=$((n + 1))
  done
  echo "staged $n part folder(s) in $PARTS_DIR: $(cd "$PARTS_DIR" && ls site.tar.xz.* 2>/dev/null | tr '\n' ' ')"
}
install_site() {
  [[ -f "$SITE/.complete" ]] && return 0
  [[ -f "$PARTS_DIR/MANIFEST" ]] || return 0  # nothing carried: use what is installed
  local missing
  missing=$(cd "$PARTS_DIR" && awk '{print $2}' MANIFEST | while read -r f; do [[ -f $f ]] || echo "$f"; done)
  if [[ -n "$missing" ]]; then
    echo "missing package parts: $missing; make the calls that carry them (back to back, with --stage), then this one." >&2
    return 1
  fi
  (cd "$PARTS_DIR" && sha256sum -c --quiet MANIFEST) || { echo "package parts are corrupt (sha256)" >&2; return 1; }
  rm -rf "$SITE" && mkdir -p "$SITE"
  echo "unpacking $(cd "$PARTS_DIR" && awk '{print $2}' MANIFEST | wc -l) part(s) into $SITE..."
  (cd "$PARTS_DIR" && awk '{print $2}' MANIFEST | xargs cat) | "$PY" -c \
    "import sys, tarfile; tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz').extractall(sys.argv[1])" \
    "$SITE" || return 1
  touch "$SITE/.complete"
}

stage
if ((STAGE)); then exit 0; fi
if [[ -f "$SITE/.complete" || -f "$PARTS_DIR/MANIFEST" ]]; then
  export PYTHONPATH=$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
fi
# the full check uses its own Warp cache, emptied by the compile part to time a cold load
if ((!SMALL)); then export WARP_CACHE_PATH=$BASE/warp-cache; fi
CACHE=${WARP_CACHE_PATH:-$HOME/.cache/warp}

"$PY" -c "import json, sys; json.dump({'mode': sys.argv[1]}, open(sys.argv[2], 'w'))" \
  "$([[ $SMALL == 1 ]] && echo small || echo full)" "$WORK/mode.json"

# -- one part: its own time limit (never past the whole check's), its log, its status ----------
record() {  # name status rc seconds budget
  "$PY" - "$WORK/parts.json" "$@" <<'EOF'
import json, os, sys
path, name, status, rc, secs, budget = sys.argv[1:]
try:
    parts = json.load(open(path))
except (OSError, ValueError):
    parts = {}
parts[name] = {"status": status, "rc": int(rc), "seconds": float(secs), "budget_s": int(budget)}
json.dump(parts, open(path + ".tmp", "w"), indent=1)
os.replace(path + ".tmp", path)
EOF
}
publish() {
  "$PY" benchmarks/gpu_summary.py "$WORK" "$OUTDIR" "$@" || echo "gpu_summary.py failed" >&2
  tar -C "$WORK" -czf "$OUTDIR/logs.tar.gz.tmp" . && mv "$OUTDIR/logs.tar.gz.tmp" "$OUTDIR/logs.tar.gz"
}
run_part() {  # name budget command...
  local name=$1 budget=$2 left status rc start ms secs
  shift 2
  [[ -n "$ONLY" && "$ONLY" != "$name" && "$name" != setup ]] && return 0
  left=$((TOTAL_S - ($(date +%s) - T0) - 10))
  ((budget > left)) && budget=$left
  if ((budget < 10)); then
    echo "== $name: skipped (the check's $TOTAL_S s are spent)"
    record "$name" skipped 0 0 0
    publish
    return 0
  fi
  echo "== $name (limit $budget s)"
  start=$(date +%s%N)
  timeout --kill-after=10 "$budget" "$@" > "$WORK/$name.log" 2>&1
  rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  secs=$((ms / 1000)).$(printf %03d $((ms % 1000)))
  case $rc in
    0) status=ok ;;
    124 | 137) status="timed out" ;;
    *) status="failed (exit $rc)" ;;
  esac
  echo "   $name: $status in ${secs%.*} s"
  [[ $rc != 0 ]] && tail -n 15 "$WORK/$name.log" | sed 's/^/   | /'
  record "$name" "$status" "$rc" "$secs" "$budget"
  publish
}

setup() {
  install_site || return 1
  "$PY" - "$WORK/env.json" <<'EOF'
import json, os, platform, subprocess, sys
import torch, mujoco, warp, mujoco_warp, gymnasium
from importlib.metadata import version
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (Warp CPU device)"
try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                          "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    smi_line = smi.stdout.strip()
except (OSError, subprocess.SubprocessError):
    smi_line = ""
env = {"python": platform.python_version(), "torch": torch.__version__,
       "cuda": torch.version.cuda, "gpu": gpu, "nvidia_smi": smi_line,
       "warp": warp.config.version, "mujoco": mujoco.__version__,
       "mujoco_warp": version("mujoco-warp"), "gymnasium": gymnasium.__version__,
       "cpu_cores": os.cpu_count(), "warp_cache": os.environ.get("WARP_CACHE_PATH")}
json.dump(env, open(sys.argv[1], "w"), indent=1)
print(json.dumps(env, indent=1))
EOF
}

if ((SMALL)); then
  DEV=(--device cpu)
  COMPILE=("$PY" benchmarks/gpu.py --compile "$CACHE" --warm-only --tasks reacher "${DEV[@]}")
  BENCH=("$PY" benchmarks/gpu.py --small --no-eager --tasks reacher)
  TRAIN=("$PY" benchmarks/gpu_train.py --small --tasks reacher)
  B_SETUP=60 B_COMPILE=90 B_TESTS=90 B_BENCH=120 B_TRAIN=120
else
  COMPILE=("$PY" benchmarks/gpu.py --compile "$CACHE" --probe-timeout 120)
  BENCH=("$PY" benchmarks/gpu.py)
  TRAIN=("$PY" benchmarks/gpu_train.py --reacher-budget "${REACHER_BUDGET:-45}"
    --pusher-budget "${PUSHER_BUDGET:-50}")
  B_SETUP=45 B_COMPILE=130 B_TESTS=50 B_BENCH=120
  B_TRAIN=$((${REACHER_BUDGET:-45} + ${PUSHER_BUDGET:-50} + 30))
fi

export -f setup install_site
export PY SITE PARTS_DIR WORK
run_part setup "$B_SETUP" bash -c setup
if [[ "$(tail -c 300 "$WORK/setup.log" 2>/dev/null)" == *"missing package parts"* ]]; then
  publish --print
  exit 3
fi
run_part compile "$B_COMPILE" "${COMPILE[@]}" --json "$WORK/compile.json"
run_part tests "$B_TESTS" "$PY" -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider \
  --junitxml "$WORK/tests.xml"
run_part bench "$B_BENCH" "${BENCH[@]}" --json "$WORK/bench.json"
run_part train "$B_TRAIN" "${TRAIN[@]}" --json "$WORK/train.json" --out "$WORK/train.jsonl"
echo
publish --print
echo "check took $(($(date +%s) - T0)) s; files in $OUTDIR: $(ls "$OUTDIR" | tr '\n' ' ')"

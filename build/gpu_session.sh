#!/usr/bin/env bash
# Issue #5's GPU measurements as one prepared run on the device machine (H100/H200, torch 2.11, triton 3.6,
# no network), so a session that is lent one spends its 15 minutes measuring, not setting up.
#
#   here, once:      bash build/gpu_session.sh fetch-wheels          # .whl/ (~50 MB, ignored by git)
#   here, before:    bash build/gpu_session.sh set-aside .whl        # a run sends at most 64 MiB (tracked files,
#                    untracked files git does not ignore, carried paths): the trained fixture checkpoint alone is
#                    88 MB, so tracked files over 4 MiB are untracked and moved into .git/ for the session's runs
#   device:          run(command="bash build/gpu_session.sh kernels e2e-snapshot", carry=[".whl"], timeout_s=590)
#   here, after:     bash build/gpu_session.sh restore               # puts them back (git status clean again);
#                    never commit while they are set aside (the commit would delete them)
#   any time:        bash build/gpu_session.sh travel-size .whl      # what a run would send, against 64 MiB
#   A session's 15 minutes of device time include the machine's start (minutes) and no machine starts with
#   under 4 minutes left: plan ONE such run per session. Each pair's section limits + ~40 s of set-up fit in
#   590 s; a section cut short keeps every result printed so far (rows print as they are measured).
#   later sessions:  "e2e-compiled kernels-compile", then "e2e-sglang e2e-resident" (timeout_s=590 each)
#   check here:      bash build/gpu_session.sh cpu-check             # the same wiring on tiny shapes, CPU
#                    (PYTHON=/path/to/python: with that environment, e.g. torch 2.11 + triton 3.6 as on the GPU)
#
# Sections write their output to $OUT/<section>.txt (and JSON where the script has it); record the numbers
# with the device and date in docs/benchmarks.md.
#   kernels        build/bench_kernels.py: Triton attention vs SDPA's best backend, fused norm/RoPE/AdaLN vs
#                  unfused torch, the full-size LTX-2.3 step vs ltx-core 1.0.0's (random bf16 weights)
#   kernels-compile  the full-size step eager vs --enable-torch-compile's compiled blocks (SDPA, Triton, and
#                  Triton with CUDA graphs: mode reduce-overhead); two graphs to compile per variant
#   e2e-snapshot   build/bench_e2e.py: two-stage LTX-2 768x512x121, 40 stage-1 steps, snapshot device mode
#   e2e-compiled   the same with the blocks compiled, mode reduce-overhead (the warm-up request compiles)
#   e2e-sglang     the same with SGLang's LTX-2 guidance (CFG 4.0 only: 2 passes per stage-1 step, not 4)
#   e2e-resident   the same, resident device mode (both transformers on the GPU)
#   fp8-mm         #14: fp8-scaled-mm's matmul vs its dequantised reference, and its time vs bf16, per Linear shape
#   e2e-fp8        e2e-snapshot with --quantization fp8-scaled-mm
#   e2e-distilled  LTX2DistilledPipeline, 1536x1024x121 (8 + 3 steps)
#   <SGLang case>  #16: bench_e2e.py --case: one of SGLang's five LTX performance cases on this one GPU, against
#                  SGLang's H100 time and the goal (half of it): ltx_2_two_stage_t2v, ltx_2.3_two_stage_t2v_2gpus,
#                  ltx_2_3_two_stage_ti2v_2gpus, ltx_2.3_one_stage_ti2v, ltx_2_3_hq_pipeline (each loads its model:
#                  two or three per 590 s run)
#   startup        #16's start-up from files: build/write_random_model.py writes full-size random LTX-2.3 in the published
#                  layout (55 GB of files on the disk, Gemma's 24 GB on /dev/shm where it has room), then
#                  bench_e2e.py --model-path loads it as `generate` does (the load time: the engine's start-up) and times
#                  ltx_2.3_two_stage_t2v_2gpus through it (a run of its own). Served start-up and latency
#                  (bench_served.py: `ltx-triton serve`, then `generate --url`) need tritonserver, which the GPU image
#                  lacks and whose wheel (55 MB) does not fit one call's 64 MiB beside av's (36 MB)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-session-out}
mkdir -p "$OUT"
WHEELS=(av==18.1.0 transformers==4.57.6 tokenizers==0.22.2 huggingface_hub==0.36.2 ltx-core==1.0.0 ltx-pipelines==1.0.0)
SITE=/tmp/ltx-site
PYTHON_GIVEN=${PYTHON:-}
PYTHON=${PYTHON:-python3}

TRAVEL_LIMIT=$((64 * 1024 * 1024))  # the device tool's bound on what one run sends
BIG_FILE=$((4 * 1024 * 1024))       # tracked files above this are set aside for device runs
ASIDE="$(git rev-parse --absolute-git-dir)/gpu-session-aside"  # inside .git: never sent

# Bytes a device run would send: tracked and untracked-not-ignored files as they are on disk, and the carried paths.
travel_size() {
    { git ls-files -z --cached --others --exclude-standard; [ $# -gt 0 ] && find "$@" -type f -print0; } | sort -zu |
        xargs -0 -r stat -c %s -- 2>/dev/null | awk '{ total += $1 } END { print total + 0 }'
}

report_travel_size() {
    local bytes
    bytes=$(travel_size "$@")
    echo "a run would send $((bytes / 1024 / 1024)) MiB ($bytes bytes; limit $((TRAVEL_LIMIT / 1024 / 1024)) MiB)${*:+, carrying $*}"
    [ "$bytes" -le "$TRAVEL_LIMIT" ]
}

set_aside() {
    if [ -s "$ASIDE/list" ]; then
        echo "already set aside: $(tr '\n' ' ' <"$ASIDE/list")" && report_travel_size "$@"
        return
    fi
    mkdir -p "$ASIDE"
    git ls-files -z | xargs -0 -r stat -c '%s %n' -- | awk -v big="$BIG_FILE" '$1 > big { print substr($0, index($0, " ") + 1) }' >"$ASIDE/list"
    local path
    while IFS= read -r path; do
        git rm -q --cached -- "$path" && mkdir -p "$ASIDE/$(dirname "$path")" && mv -- "$path" "$ASIDE/$path" || return 1
        echo "set aside: $path (restore: bash build/gpu_session.sh restore; do not commit before)"
    done <"$ASIDE/list"
    report_travel_size "$@"
}

restore() {
    [ -s "$ASIDE/list" ] || { echo "nothing is set aside"; return 0; }
    local path
    while IFS= read -r path; do
        mkdir -p "$(dirname "$path")" && mv -- "$ASIDE/$path" "$path" && git reset -q -- "$path" || return 1
        echo "restored: $path"
    done <"$ASIDE/list"
    rm -rf "$ASIDE"
}

fetch_wheels() {
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl "${WHEELS[@]}"
    local exclude
    exclude="$(git rev-parse --git-dir)/info/exclude"
    mkdir -p "$(dirname "$exclude")"
    grep -qx "/.whl/" "$exclude" 2>/dev/null || echo "/.whl/" >>"$exclude"
    du -sh .whl
}

# Our packages without installing (src layout: each top-level folder holds its package), the carried wheels beside them.
prepare_site() {
    local install_wheels=$1
    rm -rf "$SITE" && mkdir -p "$SITE"
    if [ "$install_wheels" = 1 ]; then
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl || exit 1
    fi
    export PYTHONPATH="$SITE:$PWD/python_backend:$PWD/kernels:$PWD/client${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
}

section() {  # name timeout command...
    local name=$1 limit=$2
    shift 2
    echo "=== $name ($(date -u +%FT%TZ), limit ${limit}s)"
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
    echo "=== $name exit ${PIPESTATUS[0]}"
}

if [ $# -eq 0 ]; then
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { print }' "$0"
    exit 2
fi
case $1 in
fetch-wheels)
    fetch_wheels
    exit
    ;;
set-aside) shift && set_aside "$@"; exit ;;
restore) restore; exit ;;
travel-size) shift && report_travel_size "$@"; exit ;;
cpu-check)  # PYTHON=... to check with another environment (e.g. the GPU image's torch 2.11 / triton 3.6)
    if [ -z "$PYTHON_GIVEN" ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; fi
    prepare_site 0
    section cpu-kernels 300 env TRITON_INTERPRET=1 "$PYTHON" build/bench_kernels.py --dry-run --compile
    section cpu-e2e 300 "$PYTHON" build/bench_e2e.py --tiny --device cpu --iters 1
    section cpu-sglang-case 300 "$PYTHON" build/bench_e2e.py --case ltx_2_3_two_stage_ti2v_2gpus --tiny --device cpu \
        --width 128 --height 128 --steps 2 --iters 1
    section cpu-write-model 120 "$PYTHON" build/write_random_model.py /tmp/ltx-random-tiny --version 2.3 --size tiny --device cpu
    section cpu-startup 300 "$PYTHON" build/bench_e2e.py --model-path /tmp/ltx-random-tiny --case ltx_2.3_two_stage_t2v_2gpus \
        --device cpu --width 128 --height 128 --num-frames 9 --steps 2 --iters 1
    rm -rf /tmp/ltx-random-tiny
    exit
    ;;
esac

prepare_site 1
{ nvidia-smi; "$PYTHON" -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"; } 2>&1 | tee "$OUT/device.txt"
for name in "$@"; do
    case $name in
    kernels)
        section kernels 240 "$PYTHON" build/bench_kernels.py
        ;;
    kernels-compile) section kernels-compile 240 "$PYTHON" build/bench_kernels.py --sections step --compile ;;
    e2e-snapshot) section e2e-snapshot 270 "$PYTHON" build/bench_e2e.py --device-mode snapshot --iters 2 --json "$OUT/e2e-snapshot.json" ;;
    e2e-compiled)
        section e2e-compiled 300 "$PYTHON" build/bench_e2e.py --device-mode snapshot --torch-compile-mode reduce-overhead \
            --iters 2 --json "$OUT/e2e-compiled.json"
        ;;
    e2e-sglang)
        section e2e-sglang 240 "$PYTHON" build/bench_e2e.py --device-mode snapshot --guidance sglang --iters 2 \
            --json "$OUT/e2e-sglang.json"
        ;;
    e2e-resident) section e2e-resident 300 "$PYTHON" build/bench_e2e.py --device-mode resident --iters 2 --json "$OUT/e2e-resident.json" ;;
    fp8-mm)  # fp8-scaled-mm's torch._scaled_mm against its dequantised reference, and its time vs bf16 (tests/test_gpu.py)
        section fp8-mm 120 "$PYTHON" build/check_fp8_mm.py ;;
    e2e-fp8)
        section e2e-fp8 300 "$PYTHON" build/bench_e2e.py --device-mode snapshot --quantization fp8-scaled-mm --iters 2 \
            --json "$OUT/e2e-fp8.json"
        ;;
    e2e-distilled)
        section e2e-distilled 240 "$PYTHON" build/bench_e2e.py --pipeline distilled --width 1536 --height 1024 --iters 2 \
            --json "$OUT/e2e-distilled.json"
        ;;
    startup)
        section write-model 230 "$PYTHON" build/write_random_model.py /tmp/ltx-random-2.3 --version 2.3 --gemma-dir auto
        section startup 300 "$PYTHON" build/bench_e2e.py --model-path /tmp/ltx-random-2.3 --case ltx_2.3_two_stage_t2v_2gpus \
            --iters 2 --json "$OUT/startup.json"
        rm -rf /tmp/ltx-random-2.3 /dev/shm/ltx-random-2.3-gemma
        ;;
    ltx_2*)  # an SGLang case (bench_e2e.py SGLANG_CASES names them; an unknown one exits 2 there); HQ is 1920x1088
        section "$name" "$([[ $name == *hq* ]] && echo 260 || echo 200)" "$PYTHON" build/bench_e2e.py --case "$name" --iters 2 \
            --json "$OUT/$name.json" ;;
    *) echo "unknown section $name (kernels, kernels-compile, e2e-snapshot, e2e-compiled, e2e-sglang, e2e-resident, fp8-mm," \
        "e2e-fp8, e2e-distilled, startup, or an SGLang case of build/bench_e2e.py --case)" && exit 2 ;;
    esac
done

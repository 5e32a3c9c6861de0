#!/usr/bin/env bash
# The GPU rows of bench/README.md in one command (issues 14 and 26): on a machine with a CUDA GPU, in
# at most 12 minutes (each step has its own timeout: 180 + 240 + 120 + 90 + 90 s),
#   1. the default MLP VAE's epoch time on full MNIST (vaelab train --device cuda, 3 epochs),
#   2. importance-sampled log p(x) of all 10,000 test digits with k = 5,000,
#   3. training throughput: vaelab vs hand-written PyTorch vs Pyro, with --compile and --bf16,
#   4. the deep top-down VAE's GPU preset (--model deep, 16 groups, width 1024): its epoch time,
#   5. the NVAE/VDVAE-shaped deep-conv preset: its epoch time.
# Without a CUDA GPU it says so and exits 0. MNIST comes from $VAELAB_DATA, else ../shared/data.
#
#   bash bench/gpu.sh
#   DEVICE=cpu EPOCHS=1 K=10 EXAMPLES=100 ROUNDS=2 bash bench/gpu.sh   # a smoke test of the script
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
DEVICE=${DEVICE:-cuda} EPOCHS=${EPOCHS:-3} K=${K:-5000} EXAMPLES=${EXAMPLES:-0} ROUNDS=${ROUNDS:-10}
if [ "$DEVICE" = cuda ] && ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "bench/gpu.sh: no CUDA GPU on this machine (torch.cuda.is_available() is False): nothing to measure"
    exit 0
fi
export VAELAB_DATA=${VAELAB_DATA:-$(cd .. && pwd)/shared/data}
RUN=$(mktemp -d)/mnist-$DEVICE
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(0) if '$DEVICE' == 'cuda' else 'cpu', '| torch', torch.__version__)"

echo "== 1. MLP VAE (784-512-512-32) on full MNIST, batch 128, $EPOCHS epochs"
timeout 180 "$PY" -m vaelab train --dataset mnist --device "$DEVICE" --epochs "$EPOCHS" --no-eval --no-progress \
    --out "$RUN" | grep -E '^epoch' || true
"$PY" - "$RUN" <<'PYTHON'
import json, sys
records = [json.loads(line) for line in open(f"{sys.argv[1]}/metrics.jsonl")]
times = [b["seconds"] - a["seconds"] for a, b in zip([{"seconds": 0.0}] + records, records)]
print(f"epoch time: first {times[0]:.2f} s, later epochs {min(times[1:] or times):.2f} s (the training split)")
PYTHON

echo "== 2. IS log p(x), all test digits (--examples $EXAMPLES), k = $K"
if timeout 240 "$PY" -m vaelab evaluate "$RUN" -k "$K" --examples "$EXAMPLES" --device "$DEVICE" --no-progress \
        > /dev/null; then
    "$PY" - "$RUN" <<'PYTHON'
import json, sys
latest = json.load(open(f"{sys.argv[1]}/metrics.json"))["evaluations"]["latest"]["test"]
print(f"IS k={latest['is_samples']} over {latest['examples']} digits: {latest['seconds']:.1f} s, "
      f"log p(x) {latest['log_px_is']['mean']:.2f} ± {latest['log_px_is']['stderr']:.2f}")
PYTHON
else
    echo "(the evaluation did not finish in 240 s)"
fi

echo "== 3. throughput: vaelab vs hand-written vs Pyro, compile and bf16"
timeout 120 "$PY" bench/throughput.py --device "$DEVICE" --compile --bf16 --rounds "$ROUNDS" \
    || echo "(the throughput comparison did not finish in 90 s)"

echo "== 4. the deep top-down VAE's GPU preset (issue 26): 16 groups of 32, width 1024, batch 256"
DEEP=$(dirname "$RUN")/deep-$DEVICE
timeout 90 "$PY" -m vaelab train --model deep --groups 16 --latent-dim 32 --hidden 1024 --batch-size 256 \
    --dataset mnist --device "$DEVICE" --epochs "$EPOCHS" --no-eval --no-progress --out "$DEEP" \
    | grep -E '^epoch' || echo "(the deep preset did not finish $EPOCHS epochs in 90 s)"

echo "== 5. the NVAE/VDVAE-shaped preset (deep-conv): 8 groups of 8 channels at 14×14 and 7×7, width 64"
DEEPCONV=$(dirname "$RUN")/deep-conv-$DEVICE
timeout 90 "$PY" -m vaelab train --model deep --architecture deep-conv --groups 8 --latent-dim 8 --hidden 64 \
    --conv-channels 64,64 --batch-size 128 --dataset mnist --device "$DEVICE" --epochs "$EPOCHS" --no-eval \
    --no-progress --out "$DEEPCONV" | grep -E '^epoch' || echo "(deep-conv did not finish $EPOCHS epochs in 90 s)"

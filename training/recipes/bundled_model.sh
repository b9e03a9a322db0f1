#!/usr/bin/env bash
# Rebuild the bundled model (vs_dvd/data/dbn.onnx) on one CUDA GPU: the recipe behind README's
# "The bundled model". Full-width DBN, photos with simulated hand-held shake, ~10k steps of batch 64
# (about 7 minutes on an H200, where the 16-core data pipeline, not the GPU, set the pace).
#   bash training/recipes/bundled_model.sh [WORK_DIR]
set -euo pipefail
WORK=${1:-$HOME/.cache/vs-dvd/bundled}
PY=${PYTHON:-python3}
mkdir -p "$WORK"

# 1. Data: 30 clips per training photo and 6 per held-out photo (another seed), in parallel.
$PY -m training.corpus > "$WORK/corpus.json"
$PY - "$WORK" <<'PY' | xargs -P "$(nproc)" -L 1 sh -c "$PY"' -m training.data.photos "$0" --name "$1" -o "$2" --split "$3" --clips-per-photo "$4" --seed "$5" >/dev/null 2>&1 || echo "synthesis failed: $0"'
import json, sys
for p in json.load(open(f"{sys.argv[1]}/corpus.json")):
    n, seed = (30, 0) if p["split"] == "train" else (6, 1)
    print(p["path"], p["name"], f"{sys.argv[1]}/data/{p['split']}/{p['name']}", p["split"], n, seed)
PY

# 2. Train: cosine schedule from lr 4e-3, bf16 autocast, channels_last.
$PY -m training.train --data "$WORK"/data/train/* --out "$WORK/run" --width 64 --batch 64 \
    --iters 9700 --schedule cosine --lr 0.004 --warmup 300 --workers "$(( $(nproc) - 1 ))" \
    --ckpt-every 1000 --val-every 0 --resume

# 3. Export (fp16 weights keep the file under 32 MB) and evaluate through ONNX Runtime.
$PY -m training.export "$WORK/run" -o "$WORK/dbn.onnx" --fp16-weights
$PY -m training.evaluate "$WORK/dbn.onnx" "$WORK"/data/val/* --split val --out "$WORK/eval"

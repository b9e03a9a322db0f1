#!/usr/bin/env bash
# Phase 21 on a lent GPU machine (issue 26). That machine has PyTorch, numpy, OpenCV, ONNX and ONNX Runtime but
# no VapourSynth (which `import vs_dvd` needs), no PyAV, no network, and a call takes along at most 64 MiB with
# the checkout. So the photos travel re-encoded and are shaken there, on its cores; the run comes back as a
# file, to be evaluated here like every phase (training.evaluate, then the shipping rule of issue 26).
#   bash training/recipes/device.sh pack                 # here: .device/ (ignored by git) = VapourSynth's wheel,
#                                                        # the dvd plugin, the training photos as JPEG (MAX_SIDE px)
#   bash training/recipes/device.sh site                 # there: VapourSynth and the plugin into SITE (bench/device.sh)
#   bash training/recipes/device.sh train OUT [MINUTES]  # there: OUT/p21.onnx in parts, after MINUTES of training
#   bash training/recipes/device.sh join DIR DEST        # here, DIR where its files came back: DEST/p21.onnx, checked
# The device call: run(command='bash training/recipes/device.sh train $OUT', carry=['.device'], timeout_s=600);
# then, here, python -m training.evaluate on every held-out set (bundled_model.sh steps 3 and 19).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PACK=$ROOT/.device
SITE=/tmp/site  # where `site` installs the pack on the lent machine
PY=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3)}  # the make install venv here
MAX_SIDE=1280          # px: the photos' size in the pack (training.data.photos views them at 25-100 % of this)
CLIPS_PER_PHOTO=${CLIPS_PER_PHOTO:-10}  # made in minutes on the lent machine's cores, leaving most of one call to training
MIX21=(--families tremor jolt rotation zoom --exposures 3 5 7 9 13 15 --max-speed 8 --gamma-share 0.5
       --noise-share 0.3 --max-blur 40)  # phase 18's mix without its H.264 share

install_site() {  # there: VapourSynth and the dvd plugin into $SITE, which the caller puts first on PYTHONPATH
    ls "$PACK"/*.whl "$PACK/photos.json" "$PACK/plugin" > /dev/null || { echo "no $PACK: run 'device.sh pack' here first" >&2; exit 1; }
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$PACK"/*.whl
    mkdir -p "$SITE/vapoursynth/plugins/dvd" && cp "$PACK"/plugin/* "$SITE/vapoursynth/plugins/dvd"/
}

case ${1:-} in
site)
    install_site && echo "$SITE" ;;
pack)
    export PYTHONPATH=$ROOT
    mkdir -p "$PACK/photos"
    grep -qx '/.device/' "$ROOT/.git/info/exclude" 2>/dev/null || echo /.device/ >> "$ROOT/.git/info/exclude"
    $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 -d "$PACK" "VapourSynth==$($PY -c 'import vapoursynth; print(vapoursynth.__version__.release_major)')"
    mkdir -p "$PACK/plugin"  # the dvd plugin as this checkout's install built it (vapoursynth/plugins/dvd)
    cp "$($PY -c 'import pathlib, vapoursynth; print(pathlib.Path(vapoursynth.__file__).parent / "plugins" / "dvd")')"/* \
        "$PACK/plugin"/
    $PY -m training.corpus > "$PACK/corpus.json"
    $PY - "$PACK" "$MAX_SIDE" <<'PY'
import json, sys
from pathlib import Path
import cv2
from training.data.sources import read_image
pack, side = Path(sys.argv[1]), int(sys.argv[2])
kept = []
for p in json.load(open(pack / "corpus.json")):
    if p["kind"] == "photo" and p["split"] == "train" and (image := read_image(Path(p["path"]), side)) is not None:
        cv2.imwrite(str(pack / "photos" / f"{p['name']}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        kept.append({k: p[k] for k in ("name", "source", "licence")})
(pack / "photos.json").write_text(json.dumps(kept, indent=1) + "\n")
total = sum(f.stat().st_size for f in pack.rglob("*") if f.is_file() and f.name != "corpus.json")
print(f"{pack}: {len(kept)} training photos, the VapourSynth wheel and the dvd plugin, {total / 2**20:.1f} MiB")
PY
    rm "$PACK/corpus.json" ;;
train)
    OUT=${2:?usage: device.sh train OUT [MINUTES]}
    install_site
    export PYTHONPATH=$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
    WORK=${WORK:-/tmp/p21}; mkdir -p "$WORK" "$OUT"
    cp "$ROOT/vs_dvd/data/dbn.onnx" "$ROOT/vs_dvd/data/dbn.json" "$WORK"/
    start=$(date +%s)
    for photo in "$PACK"/photos/*.jpg; do
        name=$(basename "$photo" .jpg)
        echo "$photo" "$name" "$WORK/photos/$name"
    done | xargs -P "$(nproc)" -L 1 sh -c "$PY"' -m training.data.photos "$0" --name "$1" -o "$2" --split train \
        --clips-per-photo '"$CLIPS_PER_PHOTO"' --seed 21 '"${MIX21[*]}"' >/dev/null 2>&1 || echo "synthesis failed: $0"'
    echo "synthesis: $(ls -d "$WORK"/photos/* | wc -l) photos x $CLIPS_PER_PHOTO clips in $(( $(date +%s) - start )) s"
    cd "$WORK"
    $PY -m training.train --config "$ROOT/training/recipes/phases/21-device.toml" ${3:+--time-limit "$3"} \
        > "$OUT/train.log" 2>&1 || { tail -c 3000 "$OUT/train.log"; exit 1; }
    tr '\r' '\n' < "$OUT/train.log" | grep -v '%|' | tail -20  # its log lines, not the progress bar
    # Float16 weights (half the file) unless their rounding fails export's parity check; then float32.
    for weights in --fp16-weights ""; do
        $PY -m training.export p21 -o "$OUT/p21.onnx" $weights --description "phase 21 (training/recipes/device.sh): \
the phase-17 file fine-tuned on a GPU on phase 18's camera families" 2>&1 | tee -a "$OUT/export.log" || true
        [ -f "$OUT/p21.onnx" ] && break
    done
    # Files come back from the machine at 16 MiB at most: the model in parts, which 'join' puts together.
    split -b 15M -d "$OUT/p21.onnx" "$OUT/p21.onnx.part" && rm "$OUT/p21.onnx" ;;
join)
    DIR=${2:?usage: device.sh join DIR DEST}; DEST=${3:?usage: device.sh join DIR DEST}  # DIR: where they came back
    mkdir -p "$DEST" && cat "$DIR"/p21.onnx.part* > "$DEST/.p21.onnx.tmp" && cp "$DIR/p21.json" "$DEST/.p21.json.tmp"
    $PY - "$DEST" <<'PY'
import hashlib, json, sys
from pathlib import Path
d = Path(sys.argv[1])
want = json.loads((d / ".p21.json.tmp").read_text())["sha256"]
if hashlib.sha256((d / ".p21.onnx.tmp").read_bytes()).hexdigest() != want:
    sys.exit(f"the parts do not make the file p21.json names (sha256 {want[:12]}); fetch them again")
PY
    mv "$DEST/.p21.onnx.tmp" "$DEST/p21.onnx" && mv "$DEST/.p21.json.tmp" "$DEST/p21.json" && echo "$DEST/p21.onnx" ;;
*)
    sed -n 2,12p "$0" >&2; exit 2 ;;
esac

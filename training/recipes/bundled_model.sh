#!/usr/bin/env bash
# Rebuild the bundled model (vs_dvd/data/dbn.onnx): the recipe behind README's "The bundled model".
# Full-width DBN, photos with simulated hand-held shake. Phase 1 (one CUDA GPU): ~10k steps of
# batch 64 with the paper's MSE (about 7 minutes on an H200). Phase 2 (any machine; 70 minutes on
# a 2-core CPU): fine-tune with the psnr loss so that frames that are already sharp are left alone.
# Phase 3 (one CUDA GPU, about 8 minutes on an H200): the same loss at batch 64 and a 13x higher lr.
# Phase 4 (any machine; 100 minutes on a 2-core CPU): the same loss on photos plus real clips.
# Phase 5 (one CUDA GPU, about 7 minutes on an H200): phase 4's data at batch 64 and lr 1e-3.
# Phase 6 (one CUDA GPU, about 2 minutes on an H200): phase 5 continued from lr 5e-4.
# Phase 7 (any machine; 112 minutes on a 2-core CPU): nine more real clips.
# Phase 8 (one CUDA GPU, about 7 minutes on an H200): every real clip at GPU scale, averaged with phase 7.
# Phase 9 (any machine; 80 minutes on a 2-core CPU): the mean fine-tuned on the clips shaken again.
# Phase 10 (one CUDA GPU, about 6 minutes on an H100): phase 9's data at GPU scale, averaged with phase 9.
# Phase 12 (one CUDA GPU, about 3 minutes on an H200): three more clips, averaged with phase 10.
# Phase 13 (any machine; 62 minutes on a 2-core CPU): phase 12 fine-tuned on its clips.
# Phase 16 (any machine; 10 minutes on a 2-core CPU): a gate on phase 13's correction, lucky frames.
# Phase 17 (any machine; 75 minutes on a 2-core CPU): network and gate fine-tuned together, lucky frames.
# Since phase 12 the synthesis breaks clips at cuts between shots (city, launch; a whip pan in cockatoo),
# so the clips of phases 4-10 rebuilt here lack the few frames beside those that the shipped runs had.
#   bash training/recipes/bundled_model.sh [WORK_DIR]
set -euo pipefail
WORK=${1:-$HOME/.cache/vs-dvd/bundled}
PY=${PYTHON:-python3}
mkdir -p "$WORK"

# 1. Data: 30 clips per training photo and 6 per held-out photo (another seed), in parallel.
$PY -m training.corpus > "$WORK/corpus.json"
# shake_photos OUT SEED SPLIT...: the corpus photos of these splits into OUT/<split>/<photo>, 30 clips
# per training photo (SEED) and 6 per held-out one (seed 1).
shake_photos() {
    $PY - "$WORK/corpus.json" "$@" <<'PY' | xargs -P "$(nproc)" -L 1 sh -c "$PY"' -m training.data.photos "$0" --name "$1" -o "$2" --split "$3" --clips-per-photo "$4" --seed "$5" >/dev/null 2>&1 || echo "synthesis failed: $0"'
import json, sys
corpus, out, seed, splits = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
for p in json.load(open(corpus)):
    if p["kind"] != "photo" or p["split"] not in splits:
        continue
    n, s = (30, seed) if p["split"] == "train" else (6, 1)
    print(p["path"], p["name"], f"{out}/{p['split']}/{p['name']}", p["split"], n, s)
PY
}
shake_photos "$WORK/data" 0 train val
# ... and the corpus clips, shaken: 9-frame clips like the photos' (seed 0), the held-out ones with seed 1.
# Phases 4-6 had the corpus's first five clips; the held-out clips added later (val-2) are longer side 640.
$PY -m training.data.handheld -o "$WORK/footage/train" --split train --clips cockatoo box cup \
    --max-side 640 --chunk 9
$PY -m training.data.handheld -o "$WORK/footage/val" --split val --clips realshort tree --seed 1
$PY -m training.data.handheld -o "$WORK/footage/val-2" --split val --clips dog bike1 bike2 --seed 1 --max-side 640
# Phase 7's clips: the physics-class experiments, and the rest.
$PY -m training.data.handheld -o "$WORK/footage/train-2a" --split train --clips throw bounce magnet push glide \
    --max-side 640 --chunk 9
$PY -m training.data.handheld -o "$WORK/footage/train-2b" --split train --clips city launch toy cube \
    --max-side 640 --chunk 9
# Phase 9's: the twelve training clips shaken again along other camera paths, 35 % of frames held still.
TWELVE=(cockatoo box cup throw bounce magnet push glide city launch toy cube)
$PY -m training.data.handheld -o "$WORK/footage/train-s35" --split train --clips "${TWELVE[@]}" --max-side 640 \
    --chunk 9 --seed 2 --static-share 0.35
# Phase 12's: the photos and all fifteen training clips (the twelve, bikes, mire, tabletop) shaken afresh,
# the clips twice (the second time with 35 % of frames held still).
shake_photos "$WORK/data-12" 6 train
$PY -m training.data.handheld -o "$WORK/footage/train-12" --split train --max-side 640 --chunk 9 --seed 7
$PY -m training.data.handheld -o "$WORK/footage/train-12-s35" --split train --max-side 640 --chunk 9 \
    --seed 8 --static-share 0.35

PHOTOS=("$WORK"/data/train/*)
F=$WORK/footage/train
MIX=("${PHOTOS[@]}" "$F" "$F" "$F" "$F")  # the clips' folder named 4 times: 37 % of samples

# 2. Train: cosine schedule from lr 4e-3, bf16 autocast, channels_last.
$PY -m training.train --data "${PHOTOS[@]}" --out "$WORK/run" --width 64 --batch 64 \
    --iters 9700 --schedule cosine --lr 0.004 --warmup 300 --workers "$(( $(nproc) - 1 ))" \
    --ckpt-every 1000 --val-every 0 --resume

# train_from MODEL.onnx TO [training.train arguments] fine-tunes an exported file with the psnr loss
# (phase 9 starts from a mean of two runs).
train_from() {
    local init=$1 to=$2; shift 2
    $PY -m training.train --out "$WORK/$to" --init "$init" --loss psnr --val-every 0 --resume "$@"
}
# Every later phase fine-tunes the previous one from its exported file (fp16 weights keep it under
# 32 MB, BatchNorm folded): tune FROM TO [training.train arguments].
tune() {
    local from=$1 to=$2; shift 2
    $PY -m training.export "$WORK/$from" -o "$WORK/$from.onnx" --fp16-weights
    train_from "$WORK/$from.onnx" "$to" "$@"
}

# 3. Phase 2: leave sharp frames alone.
tune run tuned --data "${PHOTOS[@]}" --batch 8 --crop 96 --iters 1200 --schedule cosine --lr 3e-5 \
    --warmup 20 --ckpt-every 100

# 4. Phase 3 on the GPU, batches cut there. (The shipped run was planned for 8045 steps and stopped
#    by its time budget at step 7474; lr 1e-4 instead of 4e-4 gained 0.15 dB less.)
tune tuned tuned-gpu --data "${PHOTOS[@]}" --batch 64 --crop 128 --iters 8045 --schedule cosine \
    --lr 4e-4 --warmup 200 --data-on-device --ckpt-every 1000

# 5. Phase 4: the photos and the shaken clips, on the CPU.
tune tuned-gpu tuned-footage --data "${MIX[@]}" --batch 8 --crop 128 --iters 100000 --schedule cosine \
    --lr 6e-5 --warmup 50 --time-limit 100 --fit-time-limit --ckpt-every 100

# 6. Phase 5: the same data at GPU scale. (The bundled run was re-planned to end at a 6.8-minute time
#    limit, which came to 6719 steps; lr 4e-4 instead of 1e-3 gained 0.15 dB less on the held-out
#    clips and 0.14 dB more on the held-out photos.)
tune tuned-footage tuned-footage-gpu --data "${MIX[@]}" --batch 64 --crop 128 --iters 6719 \
    --schedule cosine --lr 1e-3 --warmup 200 --data-on-device --ckpt-every 1000

# 7. Phase 6: phase 5 continued with a new cosine from lr 5e-4 (the shipped run: 2.2 minutes alone
#    on the H200, 4546 of 4547 planned steps).
tune tuned-footage-gpu tuned-footage-gpu-2 --data "${MIX[@]}" --batch 64 --crop 128 --iters 4547 \
    --schedule cosine --lr 5e-4 --warmup 200 --data-on-device --ckpt-every 1000

# 8. Phase 7: every training clip, the new ones weighted up (47 % of samples real), on the CPU
#    (the shipped run: 1099 steps in 112 minutes).
A=$WORK/footage/train-2a B=$WORK/footage/train-2b
tune tuned-footage-gpu-2 tuned-footage-3 --data "${PHOTOS[@]}" "$F" "$F" "$A" "$A" "$B" "$B" "$B" "$B" \
    --batch 8 --crop 128 --iters 100000 --schedule cosine --lr 6e-5 --warmup 50 --time-limit 112 \
    --fit-time-limit --ckpt-every 100

# 9. Phase 8: the same clips at GPU scale, listed 8 times (73 % of samples real; the shipped run: 6294
#    steps in 6.6 minutes beside a twin with them listed 4 times, which gained less on real footage).
FOOTAGE=()
for _ in 1 2 3 4 5 6 7 8; do FOOTAGE+=("$F" "$A" "$B"); done
tune tuned-footage-3 tuned-footage-gpu-3 --data "${PHOTOS[@]}" "${FOOTAGE[@]}" --batch 64 --crop 128 \
    --iters 6294 --schedule cosine --lr 4e-4 --warmup 200 --data-on-device --ckpt-every 1000

# 10. Export the mean of phase 7's and phase 8's weights (a model soup: phase 8's gain on blurry real
#     footage, less of its loss on sharp frames).
$PY -m training.export "$WORK/tuned-footage-3" "$WORK/tuned-footage-gpu-3" -o "$WORK/soup.onnx" --fp16-weights

# 11. Phase 9 from that mean, on the CPU (the shipped run: 824 steps in 79 minutes, --seed 1).
S=$WORK/footage/train-s35
MIX9=("${PHOTOS[@]}" "$S" "$S" "$F" "$F" "$A" "$A" "$B" "$B")  # 58 % of samples real
train_from "$WORK/soup.onnx" tuned-footage-4 --data "${MIX9[@]}" \
    --batch 8 --crop 128 --iters 100000 --schedule cosine --lr 6e-5 --warmup 50 --time-limit 80 \
    --fit-time-limit --ckpt-every 100 --seed 1

# 12. Phase 10: the same data at GPU scale (the shipped run: 5042 steps in 5.8 minutes on an H100
#     beside a twin at lr 2e-4, which gained less on real footage and lost more on its sharp frames).
tune tuned-footage-4 tuned-footage-gpu-4 --data "${MIX9[@]}" --batch 64 --crop 128 --iters 5042 \
    --schedule cosine --lr 5e-4 --warmup 200 --data-on-device --ckpt-every 1000 --seed 3

# 13. Phase 10's model: the mean of phase 9's and phase 10's weights (the previous bundled file).
$PY -m training.export "$WORK/tuned-footage-4" "$WORK/tuned-footage-gpu-4" -o "$WORK/phase10.onnx" --fp16-weights

# 14. Phase 12: phase 10's model on the photos shaken afresh and the fifteen clips at GPU scale (the
#     shipped run: 3911 steps in 2.6 minutes alone on an H200, --seed 13; an 8512-step run went further on
#     blurry footage and lost more on the sharp frames of real clips 2, even averaged).
T=$WORK/footage/train-12 T35=$WORK/footage/train-12-s35
train_from "$WORK/phase10.onnx" tuned-footage-gpu-5 --data "$WORK"/data-12/train/* "$T" "$T" "$T35" "$T35" \
    --batch 64 --crop 128 --iters 3911 --schedule cosine --lr 5e-4 --warmup 200 --data-on-device \
    --ckpt-every 1000 --seed 13

# 15. Phase 12's model: the mean of phase 10's model and phase 12's run (phase 12 named twice, phase 10
#     being a mean of two).
$PY -m training.export "$WORK/tuned-footage-4" "$WORK/tuned-footage-gpu-4" "$WORK/tuned-footage-gpu-5" \
    "$WORK/tuned-footage-gpu-5" -o "$WORK/phase12.onnx" --fp16-weights

# 16. Phase 13: phase 12's model on the CPU, on phase 9's mix and the three new clips as phase 12 shook
#     them (the shipped run: 663 steps in 62 minutes, --seed 14).
$PY -m training.data.handheld -o "$WORK/footage/train-3" --split train --clips bikes mire tabletop \
    --max-side 640 --chunk 9 --seed 7
$PY -m training.data.handheld -o "$WORK/footage/train-3-s35" --split train --clips bikes mire tabletop \
    --max-side 640 --chunk 9 --seed 8 --static-share 0.35
N=$WORK/footage/train-3 N35=$WORK/footage/train-3-s35
train_from "$WORK/phase12.onnx" tuned-footage-5 --data "${MIX9[@]}" "$N" "$N" "$N35" "$N35" \
    --batch 8 --crop 128 --iters 100000 --schedule cosine --lr 6e-5 --warmup 50 --time-limit 62 \
    --fit-time-limit --ckpt-every 100 --seed 14
# 17. Phase 16: a gate on phase 13's correction, the network frozen, trained with lucky frames on
#     phase 13's mix (the shipped run: 2500 steps in 10 minutes, --seed 71).
tune tuned-footage-5 gated --data "${MIX9[@]}" "$N" "$N" "$N35" "$N35" --gate --sharp-frames 0.1 \
    --psnr-ceiling 60 --batch 8 --crop 128 --iters 2500 --schedule cosine --lr 3e-4 --warmup 100 \
    --ckpt-every 250 --seed 71
# 18. Phase 17: the whole, network and gate, fine-tuned on the same mix with the same lucky frames
#     (the shipped run: 6139 steps in 75 minutes, --seed 75). Ship it, and evaluate it through
#     ONNX Runtime on the held-out photos and on the held-out clips.
tune gated gated-tuned --data "${MIX9[@]}" "$N" "$N" "$N35" "$N35" --sharp-frames 0.1 --psnr-ceiling 60 \
    --batch 8 --crop 128 --iters 100000 --schedule cosine --lr 6e-5 --warmup 50 --time-limit 75 \
    --fit-time-limit --ckpt-every 250 --threads 2 --seed 75
$PY -m training.export "$WORK/gated-tuned" -o "$WORK/dbn.onnx" --fp16-weights
$PY -m training.evaluate "$WORK/dbn.onnx" "$WORK"/data/val/* --split val --out "$WORK/eval"
$PY -m training.evaluate "$WORK/dbn.onnx" "$WORK/footage/val" --split val --out "$WORK/eval/footage"
$PY -m training.evaluate "$WORK/dbn.onnx" "$WORK/footage/val-2" --split val --out "$WORK/eval/footage-2"

# 19. Phase 18 (issue 26; started, not shipped): the bundled file fine-tuned, gate kept, on the new
#     camera-motion mix (training.data.motion: tremor, jolt, rotation, zoom; exposures 3-15 but 11;
#     sRGB or linear averaging; noise and H.264 on the input), walk and exposure 11 held out.
MIX18=(--families tremor jolt rotation zoom --exposures 3 5 7 9 13 15 --max-speed 8 --gamma-share 0.5
       --noise-share 0.3 --compress-share 0.3)
shake_photos18() {  # OUT SEED N SPLIT [synthesis options]: N clips per corpus photo of SPLIT
    local out=$1 seed=$2 n=$3 split=$4; shift 4
    $PY - "$WORK/corpus.json" "$split" <<'PY' | while read -r path name; do
import json, sys
for p in json.load(open(sys.argv[1])):
    if p["kind"] == "photo" and p["split"] == sys.argv[2]:
        print(p["path"], p["name"])
PY
        $PY -m training.data.photos "$path" --name "$name" -o "$out/$name" --split "$split" --clips-per-photo "$n" \
            --seed "$seed" "$@" >/dev/null
    done
}
shake_photos18 "$WORK/p18/photos" 18 20 train "${MIX18[@]}" --max-blur 40
for clip in cockatoo box cup throw bounce magnet push glide city launch toy cube bikes mire tabletop; do
    $PY -m training.data.handheld -o "$WORK/p18/clips-$clip" --split train --clips "$clip" --seed 18 --max-side 640 \
        --chunk 9 "${MIX18[@]}" --max-blur 50
done
# The leave-one-family-out set: the held-out photos, walking with the camera, exposures 7 and 11.
shake_photos18 "$WORK/eval/photos-unseen" 2 6 val --families walk --exposures 7 11 --max-speed 8 --max-blur 50 \
    --gamma-share 0.5 --static-share 0.1
train_from "$WORK/dbn.onnx" p18 --data "$WORK"/p18/photos/* "$WORK"/p18/clips-* --sharp-frames 0.1 \
    --psnr-ceiling 60 --batch 8 --crop 128 --iters 6000 --schedule cosine --lr 6e-5 --warmup 50 \
    --ckpt-every 100 --threads 2 --seed 18

# 20. The bundled file's int8 OpenVINO IR (issue 30; made, not shipped): NNCF calibrated on 96 windows of
#     phase 18's training mix (about 1.5 minutes on 2 idle CPU cores). Through it the phase-17 file lost its
#     correction (output = input on the held-out clips), so vs_dvd/data has no int8 IR. Once one keeps the
#     quality, ship dbn.int8.xml/.bin with the dbn.json this writes, and rerun it whenever dbn.onnx changes
#     (the plugin refuses an int8 IR made from another ONNX file).
$PY -m training.quantise "$WORK/dbn.onnx" "$WORK"/p18/photos/* "$WORK"/p18/clips-*

#!/bin/bash
# Fastai-gap search, round 2 (after q1): one fastai difference at a time, then all of them; demo preset,
# tuning split 0.25 of train/ (val/ unread), inpainting, protocols head/discriminative/full, 3 runs.
while pgrep -f q1.sh > /dev/null; do sleep 10; done
P=/work/bin/pretext-sci2; D=/work/shared/data/imagewang-mini; O=/work/sci/cmp
C="compare --preset demo --data $D --tuning-split 0.25 --tasks inpainting --protocols head discriminative full --runs 3"
cd /work/sci
$P $C --run $O/g0-default > g0-default.log 2>&1
$P $C --run $O/g3-fastai-head --head fastai > g3-fastai-head.log 2>&1
$P $C --run $O/g4-fastai-downstream-recipe --downstream-recipe fastai > g4-fastai-downstream-recipe.log 2>&1
$P $C --run $O/g2-fastai-holes-mixed --cutout-holes 1-4 --cutout-size 16-48 --cutout-fill mixed > g2-fastai-holes-mixed.log 2>&1
$P $C --run $O/g5-fastai-pretext-recipe --pretext-recipe fastai > g5-fastai-pretext-recipe.log 2>&1
$P $C --run $O/g6-all-fastai --cutout-holes 1-4 --cutout-size 16-48 --cutout-fill mixed --head fastai --downstream-recipe fastai --pretext-recipe fastai > g6-all-fastai.log 2>&1

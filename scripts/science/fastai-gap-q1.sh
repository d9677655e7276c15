#!/bin/bash
# Fastai-gap search, round 1: the study's holes vs fastai's, demo preset, tuning split 0.25 of train/.
P=/work/bin/pretext-sci; D=/work/shared/data/imagewang-mini
cd /work/sci
$P experiment --preset demo --data $D --out /work/sci/runs --tuning-split 0.25 > e1-default.log 2>&1
$P experiment --preset demo --data $D --out /work/sci/runs --tuning-split 0.25 --cutout-holes 1-4 --cutout-size 16-48 > e2-fastai-holes.log 2>&1

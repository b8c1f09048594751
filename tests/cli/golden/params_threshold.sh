$ND params --threshold 0.5 --num-perm 256

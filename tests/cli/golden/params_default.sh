$ND params

"""Training: the rate-distortion loss and the loops that fit CMFR models to real video."""

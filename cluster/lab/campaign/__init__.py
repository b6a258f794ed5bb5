"""A seeded random mixed-fault campaign on the lab, under continuous client load, watched by
checkers independent of the cluster's own view (`fractal-ha lab campaign`)."""

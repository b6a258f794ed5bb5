"""The ocf:fractal:* resource agents."""

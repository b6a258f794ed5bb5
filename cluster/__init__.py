"""What turns machines into a Fractal cluster: configuration, and a lab on one host."""

"""Multi-site pieces of the product: booth's before-acquire handler for the Fractal ticket."""

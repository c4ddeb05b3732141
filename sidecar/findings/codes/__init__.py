"""One module per code family; ``sidecar.findings.registry`` loads them all."""

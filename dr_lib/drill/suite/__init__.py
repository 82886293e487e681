"""The drill as pytest tests, one per step, shipped inside the package so `k3s-dr drill` runs
them from an installed copy and `pytest tests/e2e --run-e2e` runs the very same ones."""

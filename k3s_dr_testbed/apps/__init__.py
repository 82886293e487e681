"""Real applications whose data k3s-dr must carry, for hook tests, benchmarks and drills: their
manifests (:mod:`.manifests`, pure) and the database image they run (:mod:`.images`)."""

"""One real node beside the kwok ones (:mod:`.node`): its files as pure functions (:mod:`.config`),
the host tools and processes it runs (:mod:`.host`), its images (:mod:`.images`), containerd's
template root (:mod:`.template`), the API calls about the node (:mod:`.api`) and stopping it (:mod:`.stop`)."""

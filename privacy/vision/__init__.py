"""Frame privacy: face detectors, tracking and holding, obscuring, the pause card, the privacy track that gates
every inbound frame, and offline anonymization of files. Shares nothing with ``privacy.records``."""

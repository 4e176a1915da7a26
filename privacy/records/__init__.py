"""Privacy records: data-minimisation validators, consent, the signed consent ledger and audit log, their
storage and signing key, and the offline chain verifier. Shares nothing with ``privacy.vision``."""

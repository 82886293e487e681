"""Ed25519 signatures: archives (their manifest) and report seals (their SHA256SUMS) say who made them.

``keyid`` (standard library only: the host probe uses it) names keys; ``envelope`` is the signature
document's format; ``keys`` makes, writes and loads key files; ``verify`` signs and judges;
``policy`` says what a verdict means for a restore, a pull, a verification (docs/security.md).
The ``cryptography`` package is imported only where a key is used.
"""

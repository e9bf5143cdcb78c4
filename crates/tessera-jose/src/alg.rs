use aws_lc_rs::signature;

/// The algorithms Tessera signs and accepts (SPEC §3.1); every other `alg`, `none` included, is
/// refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    /// Every algorithm, in the order they are offered.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa];

    /// The JOSE name (RFC 7518, RFC 8037).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `s` (`RS256`, `ES256`, `EdDSA`), if it is one.
    pub fn parse(s: &str) -> Option<SigningAlg> {
        SigningAlg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// aws-lc's verification algorithm for a public key of this algorithm.
    pub fn verification(self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            SigningAlg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SigningAlg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            SigningAlg::EdDsa => &signature::ED25519,
        }
    }
}

/// A public key that verifies signatures of one algorithm: a JWK read with
/// [`VerifyingKey::from_jwk`], or the public half of a server's own signing key.
pub trait PublicKey {
    /// The one algorithm this key verifies.
    fn alg(&self) -> SigningAlg;
    /// Whether `sig` is this key's signature of `message`.
    fn verify(&self, message: &[u8], sig: &[u8]) -> bool;
}

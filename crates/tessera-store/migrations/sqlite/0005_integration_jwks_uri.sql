-- An integration may publish its public keys at a URL (RFC 7517) instead of registering them.
ALTER TABLE integrations ADD COLUMN jwks_uri TEXT;

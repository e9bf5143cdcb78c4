-- Where the authorization endpoint may send a person back with a code (SPEC §15): a JSON
-- array of URIs, matched exactly.
ALTER TABLE integrations ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';

-- A public client (RFC 6749 §2.1): no secret, PKCE alone, no client_credentials.
ALTER TABLE integrations ADD COLUMN public_client INTEGER NOT NULL DEFAULT 0;

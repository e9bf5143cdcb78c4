-- Where the authorization endpoint may send a person back with a code (SPEC §15): a JSON
-- array of URIs, matched exactly.
ALTER TABLE integrations ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';

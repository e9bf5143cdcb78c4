-- Clients nobody typed in (SPEC §15): where an integration came from, and for one named by its
-- Client ID Metadata Document, that document's URL (its client_id on the wire).
ALTER TABLE integrations ADD COLUMN origin TEXT NOT NULL DEFAULT 'configured';
ALTER TABLE integrations ADD COLUMN metadata_document_url TEXT;

-- A tenant's rules for such clients: who may register at /oauth2/register (off,
-- initial_access_token, open), whether its people may authorize a metadata document's client,
-- and the domains whose documents an admin vouched for (a JSON array).
ALTER TABLE tenants ADD COLUMN client_registration TEXT NOT NULL DEFAULT 'off';
ALTER TABLE tenants ADD COLUMN client_metadata_documents BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tenants ADD COLUMN approved_client_domains TEXT NOT NULL DEFAULT '[]';

-- What data owners see of an application and where Tessera calls it (SPEC §6).
ALTER TABLE integrations ADD COLUMN authentication_url TEXT;
ALTER TABLE integrations ADD COLUMN webhook_url TEXT;
ALTER TABLE integrations ADD COLUMN description TEXT;
ALTER TABLE integrations ADD COLUMN homepage_url TEXT;

-- The console's sign-in finds a user by email across tenants.
CREATE INDEX users_by_email ON users (email);

-- RFC 9449 §5.2: an integration whose tokens must all be DPoP-bound (SPEC §16).
ALTER TABLE integrations ADD COLUMN dpop_bound_access_tokens BIGINT NOT NULL DEFAULT 0;

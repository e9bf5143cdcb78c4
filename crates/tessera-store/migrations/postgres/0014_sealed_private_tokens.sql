-- Private-token values are sealed with the master key (SPEC §11): AES-256-GCM, base64url,
-- each part ending with '.'. `sealed` says which form a row's value and parts are in; rows
-- written before this migration are plain until the server's first start seals them.
ALTER TABLE private_tokens ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX private_tokens_unsealed ON private_tokens (seq) WHERE NOT sealed;

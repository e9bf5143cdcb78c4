-- RFC 9449 §5: a public client's refresh tokens, bound to the DPoP key its code was redeemed with.
ALTER TABLE refresh_families ADD COLUMN dpop_jkt TEXT;

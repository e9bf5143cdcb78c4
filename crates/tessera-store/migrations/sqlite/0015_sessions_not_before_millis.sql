-- `users.sessions_not_before` counts milliseconds, like the sessions it is compared with: in
-- seconds, a user signing in again within the second of a password or role change was refused.
UPDATE users SET sessions_not_before = sessions_not_before * 1000
WHERE sessions_not_before > 0 AND sessions_not_before < 100000000000;

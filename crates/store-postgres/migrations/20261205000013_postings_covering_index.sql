-- `ledger verify` sums every user's postings per bucket. With the amount in the index that sum
-- can be an index-only scan instead of visiting every posting; the index replaces the one
-- without the amount, so a posting still writes one user index.
CREATE INDEX postings_user_account_amount ON credits.postings (user_id, account) INCLUDE (amount)
    WHERE user_id IS NOT NULL;
DROP INDEX credits.postings_user_account;

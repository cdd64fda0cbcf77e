-- `ledger verify` sums every user's postings per bucket. With the amount in the index that sum
-- reads the index alone instead of visiting two million table rows (about ten times faster);
-- the index replaces the one without the amount, so a posting still writes one user index.
CREATE INDEX credit_postings_user_account_amount ON credit_postings (user_id, account, amount)
    WHERE user_id IS NOT NULL;
DROP INDEX credit_postings_user_account;

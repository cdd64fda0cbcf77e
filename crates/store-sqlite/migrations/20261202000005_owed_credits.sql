-- Credits a refund or a dispute takes back after they were spent become a debt, kept beside the
-- buckets and repaid first by the next purchase. Its postings (account 'owed') are negative
-- while a debt stands; this cached column holds the debt as a positive number.
ALTER TABLE credit_balances ADD COLUMN owed INTEGER NOT NULL DEFAULT 0 CHECK (owed >= 0);

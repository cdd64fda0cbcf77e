-- The admin user search takes a prefix of the email as a range of this index; the unique
-- index on email covers live accounts only, and the search may include deleted ones.
CREATE INDEX users_email ON users (email);

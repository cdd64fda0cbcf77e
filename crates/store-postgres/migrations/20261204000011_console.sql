-- The admin console's dashboard counts sign-ins by outcome over recent days: an index that
-- reaches those events by kind and time, without reading every event ever recorded.
CREATE INDEX security_events_kind_created_at ON auth.security_events (kind, created_at);

-- Silences set through the API: an alert whose labels match every matcher is recorded but not notified
-- until the silence ends.
CREATE TABLE pgwarden.alert_silences (
  id          bigserial PRIMARY KEY,
  matchers    jsonb NOT NULL,
  starts_at   timestamptz NOT NULL DEFAULT now(),
  ends_at     timestamptz NOT NULL,
  comment     text,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX alert_silences_active ON pgwarden.alert_silences (ends_at);
ALTER TABLE pgwarden.alert_events ADD COLUMN description text;
ALTER TABLE pgwarden.alert_events ADD COLUMN source text NOT NULL DEFAULT 'pgwarden' CHECK (source IN ('pgwarden', 'alertmanager'));

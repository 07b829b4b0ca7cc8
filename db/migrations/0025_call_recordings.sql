-- reason: two-sided call recordings: where a call's stereo WAV is kept (under FRONTDESK_HOME), so the API can serve it and a deleted or expired call takes its audio with it

ALTER TABLE conversations ADD COLUMN recording_path text;
CREATE INDEX conversations_recorded ON conversations (ended_at) WHERE recording_path IS NOT NULL;

-- reason: a call handed to a person records where it went
ALTER TABLE conversations ADD COLUMN transferred_to text;

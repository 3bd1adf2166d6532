-- The few meetings with someone in them right now, for Upcoming's live meetings without a
-- scan of all attendance.
create index attendance_present on attendance (last_seen_at, meeting_id) where present = 1;

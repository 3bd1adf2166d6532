-- Per-account recording quotas (open recordings, bytes kept) are counted by creator.
create index recording_creator on recording (created_by, status);

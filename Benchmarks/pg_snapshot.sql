-- One JSON object: the cluster's WAL counters (pg_stat_wal), this database's commit count and the
-- durability settings as the server reports them. Benchmarks/bench.py and Benchmarks/lib.sh take it
-- before and after a measured run; the difference gives WAL flushes (wal_sync), their time
-- (wal_sync_time, with track_wal_io_timing on) and commits per flush. Counters reach these views
-- when a backend reports its statistics (at most a second late while it works, at once on exit).
SELECT json_build_object(
    'wal_records', w.wal_records,
    'wal_bytes', w.wal_bytes,
    'wal_write', w.wal_write,
    'wal_sync', w.wal_sync,
    'wal_write_time_ms', w.wal_write_time,
    'wal_sync_time_ms', w.wal_sync_time,
    'xact_commit', d.xact_commit,
    'settings', (SELECT json_object_agg(name, setting ORDER BY name)
                   FROM pg_settings
                  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method',
                                 'commit_delay', 'commit_siblings', 'track_wal_io_timing', 'shared_buffers',
                                 'max_wal_size', 'server_version')))
  FROM pg_stat_wal AS w, pg_stat_database AS d
 WHERE d.datname = current_database();

/** `plinth db` help, apart from db.ts so `plinth help` does not load the SQL modules. */
export const dbUsage = `Usage: plinth db status
       plinth db switch-primary URL
       plinth db copy --to URL [--from URL] [--force]

status          each database instance (db, dbReplicas, dbDr): its role, whether it answers,
                whether it replicates, its position and its lag behind the primary (sampled for 2 s)
switch-primary  after you promoted URL (PostgreSQL: pg_ctl promote; MariaDB: STOP SLAVE;
                RESET SLAVE ALL), makes every node write there at once, through the bus, and
                records it in each node's data folder (db-primary) so a restarted node agrees
copy            copies the whole database (system tables, collections, records, file metadata)
                from the configured db (or --from URL) to URL, any engine to any engine; reads
                one snapshot, verifies each table's row count and checksum; refuses a non-empty
                target unless --force, which empties it first. Files: plinth files copy
`

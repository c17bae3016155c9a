/** `plinth backup` help, apart from backup.ts so `plinth help` does not load the backup modules. */
export const backupUsage = `Usage: plinth backup create [NAME]
       plinth backup list
       plinth backup restore KEY

create   writes a backup into the files port under _backups/ (default name pb_backup_<time>.zip):
         a transaction-consistent, engine-neutral dump of the database plus every stored file
list     the backups: key, size, modified
restore  replaces the database and the stored files with backup KEY's (taken on any engine);
         refuses while any node serves this deployment: stop them first
`

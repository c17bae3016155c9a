/** `plinth superuser`'s help text (apart from its command, so help loads no engine code). */
export const superuserUsage = `Usage: plinth superuser <command> EMAIL [PASSWORD]

Commands:
  create EMAIL PASSWORD   create a new superuser
  upsert EMAIL PASSWORD   create, or set the password if EMAIL exists
  update EMAIL PASSWORD   change an existing superuser's password (revokes its tokens)
  delete EMAIL            delete a superuser (never the last one)
`

/** `plinth keys` help, apart from the command so `plinth help` loads no crypto code. */
export const keysUsage = `Usage: plinth keys rotate [options]

Makes a new RSA key pair the current one for sensitive fields (published at /api/plinth/keys).
The previous keys still decrypt for keys.graceHours (default a week), so clients holding the old
JWKS keep working; running nodes pick the new key up within a minute.
`

package history

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// Classify maps the error of a PostgreSQL write (through pgx) to its
// outcome. A timeout is never a failure: the commit may complete after
// the client gave up.
//
//   - nil: OK.
//   - The request was never sent (pgconn.SafeToRetry, a connection that
//     could not be opened): Failed.
//   - The server answered with an SQLSTATE that rolls the statement back
//     (constraint, read-only transaction 25006, serialization 40001,
//     deadlock 40P01, a cancelled statement 57014, ...): Failed.
//   - The server answered that the connection is going away: connection
//     exceptions (class 08), admin_shutdown 57P01 (also what a client
//     gets when its backend is terminated while it waits for synchronous
//     replication: PostgreSQL then warns that the transaction "has already
//     committed locally"), crash_shutdown 57P02, system errors (class 58)
//     and internal errors (class XX): Unknown.
//   - Anything else (a broken connection, a deadline while waiting for the
//     answer, an unexpected EOF): Unknown.
func Classify(err error) Outcome {
	if err == nil {
		return OK
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code := pe.Code
		switch {
		case len(code) >= 2 && (code[:2] == "08" || code[:2] == "58" || code[:2] == "XX"),
			code == "57P01", code == "57P02":
			return Unknown
		}
		return Failed
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) {
		return Failed
	}
	return Unknown
}

// Package audit owns the audit_log table: who did what to which resource,
// from where, and whether it worked. Every request to a protected route
// leaves one row (the guard package records it), and so does every API key
// operation, whether made over HTTP or with the CLI. Other code records
// domain events (a pattern set activated, a rollback) with Logger.Record;
// nothing else writes the table.
//
// # Off the request path, never lost
//
// Record puts the event in a bounded buffer (security.audit_buffer) and
// returns; one writer goroutine per process drains it and inserts what
// has accumulated within a few milliseconds in one transaction, so a
// steady load shares transactions and fsyncs. Flush waits for everything
// recorded before it. Close stops accepting, writes every
// buffered row and returns; platform.Close calls it after HTTP has drained.
//
// When the buffer is full (the database is slow or down), Record waits for
// room instead of dropping the row. That is the trade-off: a request is
// slowed, or with the database down eventually held, rather than served
// without a trace. A failed batch is retried with backoff until it is
// written or Close's deadline passes; only then are rows given up, and the
// number lost is logged as an error.
//
// # Tamper evidence
//
// Rows form a hash chain in id order: row_hash = SHA-256(prev_hash || "\n"
// || canonical content), and prev_hash is the row_hash of the row before it
// (64 zeros for the first). The canonical content is a JSON array of the
// row's columns, with details re-encoded (sorted keys) so PostgreSQL's
// JSONB normalisation does not change it. Writers in different processes
// serialise the chain: on PostgreSQL with pg_advisory_xact_lock inside the
// batch transaction, on SQLite with its write lock (transactions begin
// IMMEDIATE). Verify walks the chain and reports the first row whose
// content or link does not match: an UPDATE of any column, a deleted or
// inserted row, or reordered ids. Deleting rows at the tail leaves a
// shorter valid chain; catching that needs the chain head kept outside the
// database (compare Verify's Head with a copy taken earlier).
//
// GET /audit/log (admin) lists rows newest first with filters and an
// opaque cursor; `ocrpool audit verify` and `ocrpool audit list` are the
// CLI.
package audit

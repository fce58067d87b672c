// Package migrations holds ocrpool's versioned SQL migrations, one folder per
// database dialect, embedded in the binary. Both folders carry the same
// version numbers: migration NNNN means the same schema on PostgreSQL and on
// SQLite, with the types adapted (see the header of each file).
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
)

// FS holds the migration files of every dialect, under postgres/ and sqlite/.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS

// For returns the migrations of one dialect ("postgres" or "sqlite") as a
// file system whose root holds the NNNN_name.sql files, as goose expects.
func For(dialect string) (fs.FS, error) {
	switch dialect {
	case "postgres", "sqlite":
		return fs.Sub(FS, dialect)
	default:
		return nil, fmt.Errorf("migrations: unknown dialect %q (want postgres or sqlite)", dialect)
	}
}

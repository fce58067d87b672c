// Package testenv gives tests real, isolated dependencies: the embedded
// defaults, or the servers named by OCRPOOL_TEST_* environment variables.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// DatabaseURLEnv names the PostgreSQL URL tests use instead of SQLite, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const DatabaseURLEnv = "OCRPOOL_TEST_DATABASE_URL"

// DB returns an open, migrated database of its own for tb: a fresh schema in
// the PostgreSQL database of OCRPOOL_TEST_DATABASE_URL when it is set, else a
// SQLite file in tb.TempDir(). It is closed (and the schema dropped) when tb
// ends.
func DB(tb testing.TB) *db.DB {
	tb.Helper()
	cfg := DBConfig(tb)
	d, err := db.Open(context.Background(), cfg, nil)
	if err != nil {
		tb.Fatalf("testenv: open database: %v", err)
	}
	// Registered after DBConfig's cleanup, so it runs before the schema drop.
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Errorf("testenv: close database: %v", err)
		}
	})
	if _, err := d.MigrateUp(context.Background()); err != nil {
		tb.Fatalf("testenv: migrate up: %v", err)
	}
	return d
}

// DBConfig returns the configuration of an empty database of its own for tb,
// not migrated, for tests of migrate and serve. With OCRPOOL_TEST_DATABASE_URL
// it is a new schema t_<hex>, selected by the URL's search_path and dropped
// with everything in it when tb ends; otherwise a SQLite file path in
// tb.TempDir().
func DBConfig(tb testing.TB) config.DatabaseConfig {
	tb.Helper()
	cfg := config.DatabaseConfig{MaxOpenConns: 8, MaxIdleConns: 8}
	base := os.Getenv(DatabaseURLEnv)
	if base == "" {
		cfg.Path = filepath.Join(tb.TempDir(), "ocrpool.db")
		return cfg
	}

	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("testenv: %s is not a URL: %v", DatabaseURLEnv, err)
	}
	schema := "t_" + RandomSuffix(tb)

	// The schema name is generated (t_ + hex), so it needs no quoting.
	if err := adminExec(base, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("testenv: create schema %s in %s: %v", schema, u.Redacted(), err)
	}
	tb.Cleanup(func() {
		if err := adminExec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("testenv: drop schema %s: %v", schema, err)
		}
	})

	// pgx sends unknown URL parameters as run-time parameters at connect,
	// so every connection of the pool starts with this search_path.
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	cfg.URL = u.String()
	return cfg
}

// adminExec runs one statement on its own short-lived connection, so a test
// holds no connection besides those of the database it uses.
func adminExec(dsn, stmt string) error {
	conn, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = conn.ExecContext(ctx, stmt)
	return err
}

// RandomSuffix returns 16 random hex characters, for names of databases,
// schemas, key prefixes and the like that tests must not share.
func RandomSuffix(tb testing.TB) string {
	tb.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("testenv: random suffix: %v", err)
	}
	return hex.EncodeToString(b[:])
}

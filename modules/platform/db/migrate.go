package db

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/ocrpool/ocrpool/migrations"
)

// ErrNothingToRevert is returned by MigrateDown when no migration is applied.
var ErrNothingToRevert = errors.New("no migration to revert: the schema is at version 0")

// MigrationState is one migration of this binary and whether the database
// has it.
type MigrationState struct {
	Version int64
	// Name is the file name, e.g. "0001_schema.sql".
	Name    string
	Applied bool
	// AppliedAt is zero when the migration is pending.
	AppliedAt time.Time
}

// provider builds a goose provider over this database's migrations. Goose's
// global state is never used: each call gets its own provider. Goose keeps
// its version table, goose_db_version, next to ocrpool's tables.
//
// On PostgreSQL, Up, Down and Status hold a session-level advisory lock for
// their whole run, so two processes starting with --migrate at once apply
// each migration once: the second waits, then finds nothing to do.
func (d *DB) provider() (*goose.Provider, error) {
	fsys, err := migrations.For(string(d.Dialect))
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{
		goose.WithSlog(d.log),
		goose.WithDisableGlobalRegistry(true),
	}
	dialect := goose.DialectSQLite3
	if d.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// Advisory locks are per database, not per schema: derive the id
		// from the schema so that test schemas sharing one database do not
		// wait for each other, while every process on one schema shares it.
		// Retry every second for up to 5 minutes.
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(migrationLockID(d.schema)),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, d.sql, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load %s migrations: %w", d.Dialect, err)
	}
	return p, nil
}

// migrationLockID is the advisory lock id guarding migrations of one schema.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ocrpool migrations:" + schema))
	return int64(h.Sum64())
}

// MigrateUp applies every pending migration, in order, each in its own
// transaction, and returns the versions it applied (none when the schema is
// up to date). When a migration fails, the versions applied before it are
// returned with the error.
func (d *DB) MigrateUp(ctx context.Context) (applied []int64, err error) {
	p, err := d.provider()
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		var perr *goose.PartialError
		if errors.As(err, &perr) {
			applied = versions(perr.Applied)
			d.logApplied("up", perr.Applied)
			return applied, fmt.Errorf("migrate %s database %s up: migration %s failed: %w",
				d.Dialect, d.where, path.Base(perr.Failed.Source.Path), perr.Err)
		}
		return nil, fmt.Errorf("migrate %s database %s up: %w", d.Dialect, d.where, err)
	}
	d.logApplied("up", res)
	return versions(res), nil
}

// MigrateDown reverts the most recently applied migration and returns its
// version. It returns ErrNothingToRevert when no migration is applied.
func (d *DB) MigrateDown(ctx context.Context) (reverted int64, err error) {
	p, err := d.provider()
	if err != nil {
		return 0, err
	}
	res, err := p.Down(ctx)
	if err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return 0, ErrNothingToRevert
		}
		var perr *goose.PartialError
		if errors.As(err, &perr) {
			return 0, fmt.Errorf("migrate %s database %s down: migration %s failed: %w",
				d.Dialect, d.where, path.Base(perr.Failed.Source.Path), perr.Err)
		}
		return 0, fmt.Errorf("migrate %s database %s down: %w", d.Dialect, d.where, err)
	}
	d.logApplied("down", []*goose.MigrationResult{res})
	return res.Source.Version, nil
}

// MigrationStatus lists every migration of this binary, in version order,
// with whether the database has it.
func (d *DB) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	p, err := d.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status of %s database %s: %w", d.Dialect, d.where, err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, s := range st {
		m := MigrationState{
			Version: s.Source.Version,
			Name:    path.Base(s.Source.Path),
			Applied: s.State == goose.StateApplied,
		}
		if m.Applied {
			m.AppliedAt = s.AppliedAt.UTC()
		}
		out = append(out, m)
	}
	return out, nil
}

// SchemaVersion returns the current and the binary's latest version.
// current is the highest applied version (0 for an empty database).
func (d *DB) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := d.provider()
	if err != nil {
		return 0, 0, err
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("schema version of %s database %s: %w", d.Dialect, d.where, err)
	}
	return current, latest, nil
}

// CheckUpToDate returns an error when this binary has migrations the
// database has not applied, telling the operator how to apply them. A
// database newer than the binary is accepted (migrations only add), with a
// warning.
func (d *DB) CheckUpToDate(ctx context.Context) error {
	p, err := d.provider()
	if err != nil {
		return err
	}
	current, latest, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("schema version of %s database %s: %w", d.Dialect, d.where, err)
	}
	// HasPending also catches a missing older migration below current.
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("schema version of %s database %s: %w", d.Dialect, d.where, err)
	}
	if pending || current < latest {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run `ocrpool migrate up` or start with --migrate",
			current, latest)
	}
	if current > latest {
		d.log.Warn("database schema is newer than this binary", "schema_version", current, "binary_version", latest)
	}
	return nil
}

func (d *DB) logApplied(direction string, res []*goose.MigrationResult) {
	for _, r := range res {
		d.log.Info("migration applied", "direction", direction, "version", r.Source.Version,
			"name", path.Base(r.Source.Path), "duration", r.Duration)
	}
}

func versions(res []*goose.MigrationResult) []int64 {
	out := make([]int64, 0, len(res))
	for _, r := range res {
		out = append(out, r.Source.Version)
	}
	return out
}

// Package db opens ocrpool's database and keeps its schema: PostgreSQL when
// database.url is set, otherwise an embedded SQLite file (pure Go). Everything
// above it talks GORM; only the connection and the migration folder differ.
//
// Both dialects hand times back in UTC: GORM's NowFunc is UTC, PostgreSQL
// timestamptz values are scanned in UTC, and SQLite stores UTC text. Callers
// should still pass UTC times to queries (SQLite stores the offset it is given).
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ocrpool/ocrpool/config"
)

// Dialect names the database engine behind a DB. Its values are also the
// folder names under migrations/.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// slowQuery is the duration above which a query is logged at warn level.
const slowQuery = 500 * time.Millisecond

// sqliteBusyTimeout is how long a SQLite connection waits for another
// connection's write lock before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// DB is an open database: a GORM handle for the stores, plus the schema
// operations (migrations) of this binary.
type DB struct {
	// Gorm is the handle stores use. It translates driver errors (use
	// errors.Is with gorm.ErrDuplicatedKey and gorm.ErrForeignKeyViolated).
	Gorm    *gorm.DB
	Dialect Dialect

	sql *sql.DB
	log *slog.Logger
	// where names the database in messages: the SQLite path or the
	// PostgreSQL URL without its password.
	where string
	// schema is the PostgreSQL schema migrations go to (current_schema()).
	schema string
}

// Open connects to the database cfg describes: PostgreSQL when cfg.URL is
// set, otherwise the SQLite file at cfg.Path (its directory is created, mode
// 0700). It checks the connection before returning, within ctx. It does not
// migrate: call MigrateUp or CheckUpToDate.
func Open(ctx context.Context, cfg config.DatabaseConfig, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "db")
	if cfg.URL != "" {
		return openPostgres(ctx, cfg, log)
	}
	return openSQLite(ctx, cfg, log)
}

func openPostgres(ctx context.Context, cfg config.DatabaseConfig, log *slog.Logger) (*DB, error) {
	where := redactURL(cfg.URL)
	pgcfg, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message quotes the URL with its password masked.
		return nil, fmt.Errorf("database.url: %w", err)
	}
	if pgcfg.ConnectTimeout == 0 {
		pgcfg.ConnectTimeout = 10 * time.Second
	}
	sqlDB := stdlib.OpenDB(*pgcfg, stdlib.OptionAfterConnect(func(_ context.Context, conn *pgx.Conn) error {
		// Hand timestamptz back in UTC rather than in the process's zone.
		conn.TypeMap().RegisterType(&pgtype.Type{
			Name:  "timestamptz",
			OID:   pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}))
	setPool(sqlDB, cfg)

	d := &DB{Dialect: Postgres, sql: sqlDB, log: log, where: where}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", where, err)
	}
	// Migrations and the migration lock go to current_schema(): the first
	// schema of search_path that exists. NULL means none does, and every
	// CREATE would fail later with a less helpful message.
	var schema sql.NullString
	if err := sqlDB.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("query current schema of %s: %w", where, err)
	}
	if !schema.Valid {
		sqlDB.Close()
		return nil, fmt.Errorf("PostgreSQL at %s: no schema of search_path exists; create it or fix search_path", where)
	}
	d.schema = schema.String

	g, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gormConfig(log))
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open PostgreSQL at %s: %w", where, err)
	}
	d.Gorm = g
	return d, nil
}

// SQLite concurrency. The pool keeps several connections, so readers run in
// parallel with the one writer WAL allows. Two settings keep concurrent
// writers correct instead of failing with "database is locked":
//   - busy_timeout: a connection that finds the write lock taken waits (up to
//     sqliteBusyTimeout) instead of failing at once;
//   - _txlock=immediate: every read-write transaction starts with BEGIN
//     IMMEDIATE, taking the write lock up front. With SQLite's default
//     (DEFERRED) a transaction that reads and then writes must upgrade its
//     lock, and when another writer committed meanwhile that upgrade fails
//     with SQLITE_BUSY at once, whatever the busy timeout. Transactions opened
//     with sql.TxOptions{ReadOnly: true} stay deferred and do not block writers.
//
// foreign_keys is per connection in SQLite, so it is in the DSN too, like all
// pragmas, and runs on every new connection. synchronous stays FULL (the
// default): a committed correction must survive a power cut.
var sqlitePragmas = []string{
	fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()),
	"journal_mode(WAL)",
	"foreign_keys(1)",
}

func openSQLite(ctx context.Context, cfg config.DatabaseConfig, log *slog.Logger) (*DB, error) {
	path := strings.TrimSpace(cfg.Path)
	switch {
	case path == "":
		return nil, errors.New("database.path is empty: set it to a file path, or set database.url for PostgreSQL")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("database.path %q: must be a file path (in-memory databases and file: URIs are not supported)", path)
	case strings.Contains(path, "?"):
		return nil, fmt.Errorf("database.path %q: must not contain '?'", path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("database.path %q: create its directory: %w", path, err)
	}
	// SQLite reports an unwritable directory as "out of memory"; WAL mode
	// needs to create files next to the database anyway.
	probe, err := os.CreateTemp(dir, ".ocrpool-write-probe-*")
	if err != nil {
		return nil, fmt.Errorf("database.path %q: its directory is not writable: %w", path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("database.path %q is a directory, not a database file", path)
	}

	q := url.Values{"_pragma": sqlitePragmas, "_txlock": {"immediate"}}
	sqlDB, err := sql.Open(sqlite.DriverName, path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	setPool(sqlDB, cfg)

	d := &DB{Dialect: SQLite, sql: sqlDB, log: log, where: path}
	if err := d.checkSQLite(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	g, err := gorm.Open(&sqlite.Dialector{Conn: sqlDB}, gormConfig(log))
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	d.Gorm = g
	return d, nil
}

// checkSQLite opens a first connection (SQLite opens files lazily) and makes
// sure the file is a writable database in WAL mode: SQLite silently opens a
// write-protected file read-only, and otherwise only the first write would
// fail.
func (d *DB) checkSQLite(ctx context.Context) error {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL (is the file or its directory read-only?)", mode)
	}
	// Probe a write: rewrite user_version with its own value, then roll back.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	defer tx.Rollback()
	var v int64
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return fmt.Errorf("not writable (is the file read-only?): %w", err)
	}
	return nil
}

// setPool applies the configured pool sizes. An unset MaxIdleConns keeps as
// many idle connections as may be open: with SQLite every new connection
// reopens the file and reruns the pragmas.
func setPool(sqlDB *sql.DB, cfg config.DatabaseConfig) {
	if cfg.MaxOpenConns > 0 {
		sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	}
	idle := cfg.MaxIdleConns
	if idle <= 0 {
		idle = max(cfg.MaxOpenConns, 2)
	}
	sqlDB.SetMaxIdleConns(idle)
	sqlDB.SetConnMaxIdleTime(10 * time.Minute)
}

func gormConfig(log *slog.Logger) *gorm.Config {
	return &gorm.Config{
		Logger:  &gormLogger{log: log},
		NowFunc: func() time.Time { return time.Now().UTC() },
		// Stores see gorm.ErrDuplicatedKey / ErrForeignKeyViolated on both
		// dialects instead of driver-specific errors.
		TranslateError: true,
		// Open pings itself, within the caller's context.
		DisableAutomaticPing: true,
	}
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database %s: %w", d.Dialect, d.where, err)
	}
	return nil
}

// Close closes every connection. Queries still running fail.
func (d *DB) Close() error {
	return d.sql.Close()
}

// redactURL returns u without its password, for messages.
func redactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparsable database.url)"
	}
	return parsed.Redacted()
}

// gormLogger sends GORM's messages to slog without printing anything to
// stdout: slow queries at warn (SQL without its parameters, which may hold
// personal data), failed queries at debug, as the caller gets and handles
// the error (a duplicate key on an idempotent ingest is not a fault).
type gormLogger struct {
	log   *slog.Logger
	level logger.LogLevel
}

func (l *gormLogger) LogMode(level logger.LogLevel) logger.Interface {
	c := *l
	c.level = level
	return &c
}

func (l *gormLogger) Info(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Info {
		l.log.InfoContext(ctx, fmt.Sprintf(msg, args...))
	}
}

func (l *gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(msg, args...))
}

func (l *gormLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.ErrorContext(ctx, fmt.Sprintf(msg, args...))
}

func (l *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if l.level == logger.Silent {
		return
	}
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound):
		if l.log.Enabled(ctx, slog.LevelDebug) {
			sqlText, rows := fc()
			l.log.DebugContext(ctx, "query failed", "sql", sqlText, "rows", rows, "duration", elapsed, "error", err)
		}
	case elapsed > slowQuery:
		sqlText, rows := fc()
		l.log.WarnContext(ctx, "slow query", "sql", sqlText, "rows", rows, "duration", elapsed)
	case l.level >= logger.Info && l.log.Enabled(ctx, slog.LevelDebug):
		sqlText, rows := fc()
		l.log.DebugContext(ctx, "query", "sql", sqlText, "rows", rows, "duration", elapsed)
	}
}

// ParamsFilter keeps query parameters out of logged SQL.
func (l *gormLogger) ParamsFilter(_ context.Context, sqlText string, _ ...any) (string, []any) {
	return sqlText, nil
}

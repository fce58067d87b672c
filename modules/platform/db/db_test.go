package db_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/migrations"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// schemaColumns is every table of architecture-v2.md with its columns, in the
// document's order.
var schemaColumns = []struct {
	table   string
	columns []string
}{
	{"corrections_master", []string{
		"id", "source_app", "source_environment", "source_correction_id",
		"created_at", "user_id_hash",
		"ocr_provider", "ocr_text", "ocr_confidence",
		"original_inference",
		"corrected_merchant", "corrected_amount", "corrected_date", "corrected_category", "corrected_card_last_four",
		"fields_corrected",
		"data_quality_score", "is_outlier", "outlier_reason",
		"used_in_training", "training_dataset_id", "training_run_version",
		"model_version", "prompt_version",
		"ingested_at", "last_modified_at",
	}},
	{"pattern_cache_versions", []string{
		"version_id", "version_name", "created_at",
		"pattern_data", "pattern_count",
		"based_on_corrections_count", "avg_pattern_confidence",
		"is_active", "activated_at", "deactivated_at",
		"replaced_by_version", "rollback_reason",
		"notes",
	}},
	{"training_datasets", []string{
		"dataset_id", "created_at",
		"correction_count", "date_range_start", "date_range_end",
		"min_quality_score", "included_environments", "included_apps",
		"export_format", "file_path", "file_size_bytes",
		"used_in_training_run", "resulted_in_version",
	}},
	{"audit_log", []string{
		"id", "timestamp",
		"actor_type", "actor_id", "action", "resource_type", "resource_id",
		"details", "ip_address", "user_agent",
		"success", "error_message",
	}},
	{"api_keys", []string{
		"key_id", "key_hash",
		"app_name", "environment",
		"role", "permissions",
		"is_active", "created_at", "expires_at", "last_used_at",
		"created_by", "notes",
	}},
	{"training_runs", []string{
		"run_id", "started_at", "completed_at",
		"dataset_id", "corrections_since", "min_frequency",
		"status", "progress_pct",
		"patterns_generated", "prompt_version_created", "model_version_created",
		"validation_accuracy", "improvement_over_previous",
		"deployment_status", "deployment_started_at", "deployment_completed_at",
		"error_message", "stack_trace",
	}},
	{"deployments", []string{
		"deployment_id", "training_run_id",
		"version_name", "deployment_type",
		"started_at", "completed_at",
		"canary_percentage", "canary_target_apps",
		"blue_version", "green_version", "active_slot",
		"success_rate", "error_rate", "avg_confidence", "rollback_triggered", "rollback_reason",
	}},
	{"prompt_versions", []string{
		"version_id", "version_name", "created_at",
		"merchant_prompt", "category_prompt", "amount_prompt", "date_prompt",
		"based_on_run_id", "improvement_notes",
		"is_active", "activated_at",
	}},
}

// schemaIndexes are the document's indexes, named idx_<table>_<doc name>.
var schemaIndexes = []string{
	"idx_corrections_master_source_app_env",
	"idx_corrections_master_created_at",
	"idx_corrections_master_fields_corrected", // GIN, PostgreSQL only
	"idx_corrections_master_merchant",
	"idx_corrections_master_used_in_training",
	"idx_corrections_master_quality_score",
	"idx_pattern_cache_versions_active",
	"idx_pattern_cache_versions_created_at",
	"idx_training_datasets_created_at",
	"idx_audit_log_timestamp",
	"idx_audit_log_actor",
	"idx_audit_log_action",
	"idx_audit_log_resource",
	"idx_api_keys_key_hash",
	"idx_api_keys_active",
	"idx_training_runs_status",
	"idx_training_runs_started_at",
	"idx_deployments_started_at",
	"idx_deployments_version",
	"idx_prompt_versions_active",
	"idx_prompt_versions_created_at",
}

// allVersions lists the versions of the migrations the binary embeds, in
// order; latestVersion is the last.
func allVersions() []int64 {
	var out []int64
	for _, f := range mustMigrationFiles() {
		n, err := strconv.ParseInt(strings.SplitN(f, "_", 2)[0], 10, 64)
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

var latestVersion = allVersions()[len(allVersions())-1]

func mustMigrationFiles() []string {
	fsys, err := migrations.For("sqlite")
	if err != nil {
		panic(err)
	}
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		panic(err)
	}
	return files
}

type backend struct {
	name   string
	config func(testing.TB) config.DatabaseConfig
}

// backends is SQLite always, plus PostgreSQL when OCRPOOL_TEST_DATABASE_URL
// is set. Each config is an empty database of the test's own.
func backends() []backend {
	b := []backend{{"sqlite", func(tb testing.TB) config.DatabaseConfig {
		return config.DatabaseConfig{Path: filepath.Join(tb.TempDir(), "data", "ocrpool.db"), MaxOpenConns: 8}
	}}}
	if os.Getenv(testenv.DatabaseURLEnv) != "" {
		b = append(b, backend{"postgres", testenv.DBConfig})
	}
	return b
}

func forEachBackend(t *testing.T, f func(t *testing.T, cfg config.DatabaseConfig)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b.config(t))
		})
	}
}

func open(t *testing.T, cfg config.DatabaseConfig) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func openMigrated(t *testing.T, cfg config.DatabaseConfig) *db.DB {
	t.Helper()
	d := open(t, cfg)
	if _, err := d.MigrateUp(t.Context()); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	return d
}

// columns lists a table's columns in order; none when it does not exist.
func columns(t *testing.T, d *db.DB, table string) []string {
	t.Helper()
	var q string
	switch d.Dialect {
	case db.Postgres:
		q = `SELECT column_name FROM information_schema.columns
		     WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`
	case db.SQLite:
		q = `SELECT name FROM pragma_table_info(?) ORDER BY cid`
	}
	var cols []string
	if err := d.Gorm.WithContext(t.Context()).Raw(q, table).Scan(&cols).Error; err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	return cols
}

func indexes(t *testing.T, d *db.DB) []string {
	t.Helper()
	var q string
	switch d.Dialect {
	case db.Postgres:
		q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'idx\_%'`
	case db.SQLite:
		q = `SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx\_%' ESCAPE '\'`
	}
	var names []string
	if err := d.Gorm.WithContext(t.Context()).Raw(q).Scan(&names).Error; err != nil {
		t.Fatalf("indexes: %v", err)
	}
	slices.Sort(names)
	return names
}

func checkSchema(t *testing.T, d *db.DB) {
	t.Helper()
	// The document's columns come first, in its order; later migrations
	// only add columns after them.
	for _, tc := range schemaColumns {
		if got := columns(t, d, tc.table); len(got) < len(tc.columns) || !slices.Equal(got[:len(tc.columns)], tc.columns) {
			t.Errorf("table %s columns:\n got %v\nwant %v first", tc.table, got, tc.columns)
		}
	}
	want := slices.Clone(schemaIndexes)
	if d.Dialect == db.SQLite {
		want = slices.DeleteFunc(want, func(s string) bool { return s == "idx_corrections_master_fields_corrected" })
	}
	got := indexes(t, d)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("index %s missing; have %v", w, got)
		}
	}
	if d.Dialect == db.Postgres {
		var def string
		err := d.Gorm.Raw(`SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
		                   AND indexname = 'idx_corrections_master_fields_corrected'`).Scan(&def).Error
		if err != nil || !strings.Contains(def, "USING gin") {
			t.Errorf("fields_corrected index = %q, %v; want a GIN index", def, err)
		}
		// Migration 0006; this machine's server is built with lz4.
		var method string
		err = d.Gorm.Raw(`SELECT attcompression FROM pg_attribute
		                   WHERE attrelid = 'pattern_cache_versions'::regclass AND attname = 'pattern_data'`).Scan(&method).Error
		if err != nil || method != "l" {
			t.Errorf("pattern_data compression = %q, %v; want lz4 (l)", method, err)
		}
	}
}

func TestMigrateLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg config.DatabaseConfig) {
		ctx := t.Context()
		d := open(t, cfg)

		// Fresh database: everything pending, refused at start.
		st, err := d.MigrationStatus(ctx)
		if err != nil {
			t.Fatalf("MigrationStatus: %v", err)
		}
		if len(st) != len(allVersions()) || st[0].Version != 1 || st[0].Name != "0001_schema.sql" {
			t.Fatalf("fresh status = %+v, want every migration from 0001_schema.sql", st)
		}
		for _, m := range st {
			if m.Applied || !m.AppliedAt.IsZero() {
				t.Fatalf("fresh status = %+v, want everything pending", st)
			}
		}
		cur, latest, err := d.SchemaVersion(ctx)
		if err != nil || cur != 0 || latest != latestVersion {
			t.Fatalf("fresh SchemaVersion = %d, %d, %v; want 0, %d", cur, latest, err, latestVersion)
		}
		msg := fmt.Sprintf("database schema is at version 0, this binary needs %d: run `ocrpool migrate up` or start with --migrate", latestVersion)
		if err := d.CheckUpToDate(ctx); err == nil || err.Error() != msg {
			t.Fatalf("fresh CheckUpToDate = %v, want %q", err, msg)
		}
		if _, err := d.MigrateDown(ctx); !errors.Is(err, db.ErrNothingToRevert) {
			t.Fatalf("MigrateDown on fresh database = %v, want ErrNothingToRevert", err)
		}

		for round := range 2 { // up, down, up again: the down migration round-trips
			applied, err := d.MigrateUp(ctx)
			if err != nil || !slices.Equal(applied, allVersions()) {
				t.Fatalf("round %d: MigrateUp = %v, %v; want %v", round, applied, err, allVersions())
			}
			checkSchema(t, d)
			if err := d.CheckUpToDate(ctx); err != nil {
				t.Fatalf("round %d: CheckUpToDate after up: %v", round, err)
			}
			st, err := d.MigrationStatus(ctx)
			if err != nil || len(st) != len(allVersions()) {
				t.Fatalf("round %d: status after up = %+v, %v", round, st, err)
			}
			for _, m := range st {
				if !m.Applied || time.Since(m.AppliedAt).Abs() > time.Hour {
					t.Fatalf("round %d: status after up = %+v", round, st)
				}
			}
			if cur, latest, err := d.SchemaVersion(ctx); err != nil || cur != latestVersion || latest != latestVersion {
				t.Fatalf("round %d: SchemaVersion = %d, %d, %v; want %d, %d", round, cur, latest, err, latestVersion, latestVersion)
			}
			if applied, err := d.MigrateUp(ctx); err != nil || len(applied) != 0 {
				t.Fatalf("round %d: second MigrateUp = %v, %v; want nothing", round, applied, err)
			}
			if round == 1 {
				break
			}
			// Down one step at a time, newest first, to an empty schema.
			for i := len(allVersions()) - 1; i >= 0; i-- {
				if v, err := d.MigrateDown(ctx); err != nil || v != allVersions()[i] {
					want := allVersions()[i]
					t.Fatalf("MigrateDown = %d, %v; want %d", v, err, want)
				}
			}
			for _, tc := range schemaColumns {
				if cols := columns(t, d, tc.table); len(cols) != 0 {
					t.Errorf("after down, table %s still exists", tc.table)
				}
			}
			if err := d.CheckUpToDate(ctx); err == nil || err.Error() != msg {
				t.Fatalf("CheckUpToDate after down = %v, want %q", err, msg)
			}
		}
	})
}

// insertCorrection inserts a minimal corrections_master row.
func insertCorrection(d *db.DB, app string, sourceID any, amount string) (string, error) {
	fields := `["merchant","amount"]`
	if d.Dialect == db.Postgres {
		fields = `{merchant,amount}`
	}
	id := uuid.NewString()
	err := d.Gorm.Exec(`INSERT INTO corrections_master
		(id, source_app, source_environment, source_correction_id, user_id_hash, ocr_provider,
		 ocr_text, original_inference, corrected_amount, fields_corrected)
		VALUES (?, ?, 'sandbox', ?, 'hash', 'tesseract', 'TOTAL 12.00', '{"merchant":"Ubr"}', ?, ?)`,
		id, app, sourceID, amount, fields).Error
	return id, err
}

func TestCorrectionsConstraints(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg config.DatabaseConfig) {
		d := openMigrated(t, cfg)
		src := uuid.NewString()

		tests := []struct {
			name     string
			app      string
			sourceID any
			wantDup  bool
		}{
			{"first insert", "expenseapp", src, false},
			{"same app and source id", "expenseapp", src, true},
			{"same source id, other app", "future_app", src, false},
			{"no source id", "expenseapp", nil, false},
			{"no source id again", "expenseapp", nil, false},
		}
		for _, tc := range tests {
			_, err := insertCorrection(d, tc.app, tc.sourceID, "1.00")
			if tc.wantDup {
				if !errors.Is(err, gorm.ErrDuplicatedKey) {
					t.Errorf("%s: err = %v, want gorm.ErrDuplicatedKey", tc.name, err)
				}
			} else if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	})
}

func TestRoundTrips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg config.DatabaseConfig) {
		d := openMigrated(t, cfg)
		for _, amount := range []string{"12345678.91", "0.10", "-5.25", "99999999.99"} {
			id, err := insertCorrection(d, "expenseapp", uuid.NewString(), amount)
			if err != nil {
				t.Fatalf("insert %s: %v", amount, err)
			}
			var row struct {
				CorrectedAmount string
				IsOutlier       bool
				UsedInTraining  bool
				CreatedAt       time.Time
			}
			err = d.Gorm.Raw(`SELECT corrected_amount, is_outlier, used_in_training, created_at
				FROM corrections_master WHERE id = ?`, id).Scan(&row).Error
			if err != nil {
				t.Fatalf("select %s: %v", amount, err)
			}
			if row.CorrectedAmount != amount {
				t.Errorf("corrected_amount = %q, want %q", row.CorrectedAmount, amount)
			}
			if row.IsOutlier || row.UsedInTraining {
				t.Errorf("boolean defaults = %v, %v; want false, false", row.IsOutlier, row.UsedInTraining)
			}
			if row.CreatedAt.Location() != time.UTC || time.Since(row.CreatedAt).Abs() > time.Minute {
				t.Errorf("created_at default = %v, want about now, in UTC", row.CreatedAt)
			}
		}
		if d.Dialect == db.SQLite {
			// Timestamps written by Go and by column defaults share one text
			// shape, so comparing them as text compares times.
			id, err := insertCorrection(d, "expenseapp", nil, "1.00")
			if err != nil {
				t.Fatal(err)
			}
			later := time.Now().UTC().Add(time.Second)
			if err := d.Gorm.Exec("UPDATE corrections_master SET last_modified_at = ? WHERE id = ?", later, id).Error; err != nil {
				t.Fatal(err)
			}
			var texts struct {
				Created, Modified string
				Ordered           bool
			}
			err = d.Gorm.Raw(`SELECT CAST(created_at AS TEXT) AS created, CAST(last_modified_at AS TEXT) AS modified,
				last_modified_at > created_at AS ordered FROM corrections_master WHERE id = ?`, id).Scan(&texts).Error
			if err != nil {
				t.Fatal(err)
			}
			shape := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00:00$`)
			if !shape.MatchString(texts.Created) || !shape.MatchString(texts.Modified) || !texts.Ordered {
				t.Errorf("stored timestamps %q (default) and %q (from Go), ordered %v; want one UTC shape, in order",
					texts.Created, texts.Modified, texts.Ordered)
			}
		}
		if got := d.Gorm.NowFunc(); got.Location() != time.UTC {
			t.Errorf("NowFunc location = %v, want UTC", got.Location())
		}
	})
}

// TestBadValuesRejected checks SQLite refuses what PostgreSQL's types refuse.
func TestBadValuesRejected(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg config.DatabaseConfig) {
		d := openMigrated(t, cfg)
		tests := []struct {
			name, sql string
			args      []any
		}{
			{"invalid JSON", `INSERT INTO api_keys (key_id, key_hash, app_name, environment, role, permissions)
				VALUES (?, 'h1', 'a', 'e', 'app', '{not json')`, []any{uuid.NewString()}},
			{"varchar too long", `INSERT INTO api_keys (key_id, key_hash, app_name, environment, role, permissions)
				VALUES (?, 'h2', 'a', 'e', 'much_too_long_a_role_name', '{}')`, []any{uuid.NewString()}},
			{"not a decimal", `INSERT INTO deployments (version_name, deployment_type, success_rate)
				VALUES ('v1', 'canary', 'lots')`, nil},
			{"unknown foreign key", `INSERT INTO deployments (training_run_id, version_name, deployment_type)
				VALUES ('no-such-run', 'v1', 'canary')`, nil},
		}
		for _, tc := range tests {
			err := d.Gorm.Exec(tc.sql, tc.args...).Error
			if err == nil {
				t.Errorf("%s: accepted", tc.name)
				continue
			}
			t.Logf("%s: %v", tc.name, err)
		}
	})
}

// TestConcurrentWriters runs read-then-write transactions from many
// goroutines: none may fail with "database is locked".
func TestConcurrentWriters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg config.DatabaseConfig) {
		d := openMigrated(t, cfg)
		const workers, each = 8, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for range each {
					errs <- d.Gorm.WithContext(t.Context()).Transaction(func(tx *gorm.DB) error {
						var n int64
						if err := tx.Raw("SELECT count(*) FROM audit_log").Scan(&n).Error; err != nil {
							return err
						}
						return tx.Exec(`INSERT INTO audit_log (actor_type, actor_id, action, resource_type, resource_id, success)
							VALUES ('system', ?, 'test', 'audit', ?, ?)`, fmt.Sprint(w), fmt.Sprint(n), true).Error
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent transaction: %v", err)
			}
		}
		var n int64
		if err := d.Gorm.Raw("SELECT count(*) FROM audit_log").Scan(&n).Error; err != nil || n != workers*each {
			t.Fatalf("audit rows = %d, %v; want %d", n, err, workers*each)
		}
	})
}

// TestConcurrentMigrateUp starts two processes' worth of MigrateUp on one
// PostgreSQL schema: the session lock makes exactly one apply the migration.
func TestConcurrentMigrateUp(t *testing.T) {
	if os.Getenv(testenv.DatabaseURLEnv) == "" {
		t.Skipf("%s not set; the migration lock is PostgreSQL's", testenv.DatabaseURLEnv)
	}
	cfg := testenv.DBConfig(t)
	a, b := open(t, cfg), open(t, cfg)
	var wg sync.WaitGroup
	var appliedA, appliedB []int64
	var errA, errB error
	wg.Go(func() { appliedA, errA = a.MigrateUp(t.Context()) })
	wg.Go(func() { appliedB, errB = b.MigrateUp(t.Context()) })
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("MigrateUp errors: %v, %v", errA, errB)
	}
	both := append(append([]int64(nil), appliedA...), appliedB...)
	slices.Sort(both)
	if !slices.Equal(both, allVersions()) {
		t.Fatalf("applied %v and %v; want each of %v applied once", appliedA, appliedB, allVersions())
	}
	checkSchema(t, a)
}

func TestTestenvDB(t *testing.T) {
	d := testenv.DB(t)
	if err := d.CheckUpToDate(t.Context()); err != nil {
		t.Fatalf("testenv.DB not migrated: %v", err)
	}
	if err := d.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if d.Dialect == db.Postgres {
		var schema string
		if err := d.Gorm.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil || !strings.HasPrefix(schema, "t_") {
			t.Fatalf("current_schema = %q, %v; want the test's own t_ schema", schema, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plainfile")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	notADB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notADB, []byte(strings.Repeat("this is not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}

	asRoot := ""
	if os.Geteuid() == 0 {
		asRoot = "root ignores file permissions"
	}
	tests := []struct {
		name string
		cfg  config.DatabaseConfig
		want []string // substrings of the error
		skip string
	}{
		{name: "no path, no url", cfg: config.DatabaseConfig{}, want: []string{"database.path is empty"}},
		{name: "in-memory", cfg: config.DatabaseConfig{Path: ":memory:"}, want: []string{":memory:", "must be a file path"}},
		{name: "parent is a file", cfg: config.DatabaseConfig{Path: filepath.Join(file, "ocrpool.db")},
			want: []string{file, "create its directory", "not a directory"}},
		{name: "path is a directory", cfg: config.DatabaseConfig{Path: dir}, want: []string{dir, "is a directory"}},
		{name: "not a database", cfg: config.DatabaseConfig{Path: notADB}, want: []string{notADB, "not a database"}},
		{name: "unwritable directory", cfg: config.DatabaseConfig{Path: "/proc/ocrpool/ocrpool.db"},
			want: []string{"/proc/ocrpool/ocrpool.db", "create its directory"}},
		{name: "read-only file", cfg: config.DatabaseConfig{Path: readOnlyDB(t)}, want: []string{"ro.db", "read-only"},
			skip: asRoot},
		{name: "read-only directory", cfg: config.DatabaseConfig{Path: filepath.Join(readOnlyDir(t), "ocrpool.db")},
			want: []string{"ocrpool.db", "directory is not writable", "permission denied"}, skip: asRoot},
		{name: "url does not parse", cfg: config.DatabaseConfig{URL: "postgres://u:secret@127.0.0.1:5432/x?connect_timeout=notanumber"},
			want: []string{"database.url"}},
		{name: "nothing listens", cfg: config.DatabaseConfig{URL: "postgres://u:secret@127.0.0.1:1/x?sslmode=disable&connect_timeout=5"},
			want: []string{"connect to PostgreSQL", "127.0.0.1:1"}},
	}
	if base := os.Getenv(testenv.DatabaseURLEnv); base != "" {
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		tests = append(tests, struct {
			name string
			cfg  config.DatabaseConfig
			want []string
			skip string
		}{name: "search_path schema missing", cfg: config.DatabaseConfig{URL: base + sep + "search_path=t_does_not_exist"},
			want: []string{"no schema of search_path exists"}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			d, err := db.Open(t.Context(), tc.cfg, nil)
			if err == nil {
				d.Close()
				t.Fatalf("Open succeeded, want an error")
			}
			t.Logf("error: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// readOnlyDB returns the path of a migrated SQLite file made read-only.
func readOnlyDB(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ro.db")
	d, err := db.Open(t.Context(), config.DatabaseConfig{Path: p, MaxOpenConns: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o400); err != nil {
		t.Fatal(err)
	}
	return p
}

// readOnlyDir returns an empty directory its owner cannot write to.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	return dir
}

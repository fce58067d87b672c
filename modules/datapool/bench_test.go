package datapool

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/db"
	"github.com/ocrpool/ocrpool/modules/platform/server"
	"github.com/ocrpool/ocrpool/modules/platform/testenv"
)

// Benchmarks of issue 4, each with its baseline in the same run (see
// docs/BENCHMARKS.md and scripts/bench-datapool.sh). They use PostgreSQL
// and Redis when OCRPOOL_TEST_DATABASE_URL / OCRPOOL_TEST_REDIS_URL are
// set, SQLite and miniredis otherwise. b.N is the work of one phase; run
// them with a fixed count (-benchtime 4000x), as setup is not repeated.

// benchEnv is a data pool served over real HTTP (loopback TCP), with
// production-like logging (JSON access log at info, discarded).
type benchEnv struct {
	svc   *Service
	db    *db.DB
	sqlDB *sql.DB
	url   string
	http  *http.Client
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	cfg := testenv.DBConfig(b)
	cfg.MaxOpenConns, cfg.MaxIdleConns = 32, 32
	d, err := db.Open(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if _, err := d.MigrateUp(context.Background()); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	m, err := New(config.Default().Datapool, Deps{Log: log, DB: d, Cache: testenv.Redis(b), PIIKey: testPIIKey})
	if err != nil {
		b.Fatal(err)
	}
	// Started, as in a running process: events are published in the background.
	if err := m.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Stop(context.Background()) })
	srv, err := server.New(config.Default().Server, server.Deps{Log: log, Registry: prometheus.NewRegistry(),
		Guard: func(server.Route) []gin.HandlerFunc { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Mount(m.Routes()...); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	sqlDB, err := d.Gorm.DB()
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{svc: m.Service(), db: d, sqlDB: sqlDB, url: ts.URL, http: &http.Client{Transport: tr}}
}

// benchCorrections returns n distinct corrections over a few merchants.
func benchCorrections(n int) []Correction {
	merchants := []string{"Starbucks", "Grab", "Shell", "7-Eleven", "Kedai Makan Ali"}
	out := make([]Correction, n)
	for i := range out {
		c := sample()
		c.UserID = fmt.Sprintf("user-%d", i%500)
		c.OCRText = strings.Replace(sampleText, "THANK YOU", fmt.Sprintf("THANK YOU VISIT %d %s", i, uuid.NewString()[:8]), 1)
		c.CorrectedFields.Merchant = Value(merchants[i%len(merchants)])
		c.CorrectedFields.Amount = Value(fmt.Sprintf("%d.%02d", 5+i%40, i%100))
		out[i] = c
	}
	return out
}

// preparedRows runs the pure pipeline over cs, for the baselines, which
// insert the very rows ingest would.
func (e *benchEnv) preparedRows(b *testing.B, cs []Correction) []correctionRow {
	b.Helper()
	rows := make([]correctionRow, len(cs))
	for i, c := range cs {
		p, err := e.svc.prepare(c, time.Now().UTC())
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = p.row
		rows[i].FieldsCorrected.Dialect = e.db.Dialect
	}
	return rows
}

var benchColumns = insertColumns

// mustCopyValues is copyValues for the benchmarks' own rows.
func mustCopyValues(r *correctionRow) []any {
	v, err := copyValues(r)
	if err != nil {
		panic(err)
	}
	return v
}

func (e *benchEnv) insertSQL() string {
	ph := make([]string, len(benchColumns))
	for i := range ph {
		if e.db.Dialect == db.Postgres {
			ph[i] = "$" + strconv.Itoa(i+1)
		} else {
			ph[i] = "?"
		}
	}
	return "INSERT INTO corrections_master (" + strings.Join(benchColumns, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
}

// parallel runs n jobs on workers goroutines and returns the wall time and
// each job's latency.
func parallel(b *testing.B, workers, n int, job func(i int) error) (time.Duration, []time.Duration) {
	b.Helper()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := job(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	return time.Since(start), lat
}

func percentile(lat []time.Duration, p float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkIngestSingle: one correction per HTTP request, full pipeline,
// 16 concurrent clients, against a bare INSERT of the same (already
// prepared) row from Go with 16 goroutines, in the same run.
func BenchmarkIngestSingle(b *testing.B) {
	const clients = 16
	e := newBenchEnv(b)
	n := b.N
	bare := e.preparedRows(b, benchCorrections(n))
	bodies := make([][]byte, n)
	for i, c := range benchCorrections(n) {
		bodies[i] = mustJSON(b, c)
	}
	insert := e.insertSQL()
	// Warm up both paths (connections, prepared plans, the merchant cache).
	for i, c := range benchCorrections(32) {
		if _, err := e.svc.Ingest(context.Background(), c); err != nil {
			b.Fatal(err)
		}
		_ = i
	}
	b.ResetTimer()

	cpu0 := cpuNow()
	bareWall, bareLat := parallel(b, clients, n, func(i int) error {
		_, err := e.sqlDB.ExecContext(context.Background(), insert, rowArgs(&bare[i], e.db.Dialect)...)
		return err
	})
	cpu1 := cpuNow()
	httpWall, httpLat := parallel(b, clients, n, func(i int) error {
		resp, err := e.http.Post(e.url+"/corrections/ingest", "application/json", bytes.NewReader(bodies[i]))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	cpu2 := cpuNow()
	b.StopTimer()
	bareRate := float64(n) / bareWall.Seconds()
	httpRate := float64(n) / httpWall.Seconds()
	cpu1.report(b, cpu0, n, "bare")
	cpu2.report(b, cpu1, n, "ingest")
	b.ReportMetric(bareRate, "bare_insert/s")
	b.ReportMetric(httpRate, "ingest/s")
	b.ReportMetric(100*httpRate/bareRate, "ratio_%")
	b.ReportMetric(float64(percentile(httpLat, 0.50).Microseconds())/1000, "ingest_p50_ms")
	b.ReportMetric(float64(percentile(httpLat, 0.99).Microseconds())/1000, "ingest_p99_ms")
	b.ReportMetric(float64(percentile(bareLat, 0.50).Microseconds())/1000, "bare_p50_ms")
	b.ReportMetric(float64(percentile(bareLat, 0.99).Microseconds())/1000, "bare_p99_ms")
}

// BenchmarkIngestBatch: batches of 1,000 corrections per HTTP request
// (one client), against PostgreSQL COPY (pgx CopyFrom) of the same rows,
// in the same run. b.N is the number of batches. PostgreSQL only.
func BenchmarkIngestBatch(b *testing.B) {
	const batch = 1000
	e := newBenchEnv(b)
	if e.db.Dialect != db.Postgres {
		b.Skip("COPY is PostgreSQL's: set OCRPOOL_TEST_DATABASE_URL")
	}
	n := b.N
	bodies := make([][]byte, n)
	copies := make([][][]any, n)
	for k := 0; k < n; k++ {
		cs := benchCorrections(batch)
		bodies[k] = mustJSON(b, map[string]any{"corrections": cs})
		rows := e.preparedRows(b, benchCorrections(batch))
		copies[k] = make([][]any, batch)
		for i := range rows {
			copies[k][i] = mustCopyValues(&rows[i])
		}
	}
	ctx := context.Background()
	conn, err := e.sqlDB.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	b.ResetTimer()

	cpu0 := cpuNow()
	t0 := time.Now()
	for k := 0; k < n; k++ {
		err := conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			_, err := pc.CopyFrom(ctx, pgx.Identifier{"corrections_master"}, benchColumns, pgx.CopyFromRows(copies[k]))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	copyWall := time.Since(t0)
	cpu1 := cpuNow()
	t0 = time.Now()
	for k := 0; k < n; k++ {
		resp, err := e.http.Post(e.url+"/corrections/ingest", "application/json", bytes.NewReader(bodies[k]))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	httpWall := time.Since(t0)
	cpu2 := cpuNow()
	b.StopTimer()
	cpu1.report(b, cpu0, n*batch, "copy")
	cpu2.report(b, cpu1, n*batch, "ingest")
	copyRate := float64(n*batch) / copyWall.Seconds()
	httpRate := float64(n*batch) / httpWall.Seconds()
	b.ReportMetric(copyRate, "copy_rows/s")
	b.ReportMetric(httpRate, "ingest_rows/s")
	b.ReportMetric(100*httpRate/copyRate, "ratio_%")
}

// cpuTimes are CPU seconds used so far by this process (the server and
// the benchmark's clients) and by the local PostgreSQL's processes. On a
// shared machine wall-clock rates swing with other load; CPU per row is
// what one path costs whatever else runs.
type cpuTimes struct{ self, pg float64 }

func cpuNow() cpuTimes {
	var c cpuTimes
	c.self = procCPU("self")
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		if comm, err := os.ReadFile("/proc/" + d.Name() + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			c.pg += procCPU(d.Name())
		}
	}
	return c
}

// procCPU is utime+stime of /proc/<pid>/stat in seconds (0 when unreadable).
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis: utime and stime
	// are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// report adds the CPU per row of the phase from since to c: Go process and
// PostgreSQL (zero when PostgreSQL runs elsewhere).
func (c cpuTimes) report(b *testing.B, since cpuTimes, rows int, name string) {
	b.ReportMetric((c.self-since.self)*1e6/float64(rows), name+"_go_cpu_us/row")
	b.ReportMetric((c.pg-since.pg)*1e6/float64(rows), name+"_pg_cpu_us/row")
}

// exportRowsWanted is how many rows BenchmarkExport seeds:
// OCRPOOL_BENCH_EXPORT_ROWS (scripts/bench-datapool.sh sets 1000000),
// 20000 otherwise so a plain -bench run stays short.
func exportRowsWanted() int {
	if v, err := strconv.Atoi(os.Getenv("OCRPOOL_BENCH_EXPORT_ROWS")); err == nil && v > 0 {
		return v
	}
	return 20000
}

// seedRows stores n rows made from a thousand prepared templates (COPY on
// PostgreSQL, batched inserts on SQLite), spread over 30 days.
func (e *benchEnv) seedRows(b *testing.B, n int) {
	b.Helper()
	tpl := e.preparedRows(b, benchCorrections(1000))
	base := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Microsecond)
	step := 30 * 24 * time.Hour / time.Duration(n)
	row := func(i int) correctionRow {
		r := tpl[i%len(tpl)]
		r.ID = uuid.Must(uuid.NewV7()).String()
		r.SourceCorrectionID = ptr(uuid.NewString())
		r.CreatedAt = base.Add(time.Duration(i) * step).Truncate(time.Microsecond)
		r.ContentFingerprint = ptr(fmt.Sprintf("%064d", i))
		return r
	}
	ctx := context.Background()
	if e.db.Dialect == db.Postgres {
		conn, err := e.sqlDB.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			i := 0
			_, err := pc.CopyFrom(ctx, pgx.Identifier{"corrections_master"}, benchColumns, pgx.CopyFromFunc(func() ([]any, error) {
				if i >= n {
					return nil, nil
				}
				r := row(i)
				i++
				return mustCopyValues(&r), nil
			}))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.sqlDB.ExecContext(ctx, "ANALYZE corrections_master"); err != nil {
			b.Fatal(err)
		}
		return
	}
	chunk := make([]correctionRow, 0, insertChunk)
	for i := 0; i < n; i++ {
		chunk = append(chunk, row(i))
		if len(chunk) == insertChunk || i == n-1 {
			if _, err := e.svc.store.insertCorrections(ctx, chunk); err != nil {
				b.Fatal(err)
			}
			chunk = chunk[:0]
		}
	}
}

// peakRSS resets the process's peak resident set (Linux clear_refs 5) and
// returns a function reading the peak since, in MiB.
func peakRSS() func() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return func() float64 {
		f, err := os.Open("/proc/self/status")
		if err != nil {
			return -1
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				return kb / 1024
			}
		}
		return -1
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkExport streams every seeded row over HTTP as jsonl and as
// parquet, reporting rows/s and the peak RSS of the process during each
// export, next to the database's own dump of the same rows (COPY … TO
// STDOUT on PostgreSQL, a bare SELECT on SQLite).
func BenchmarkExport(b *testing.B) {
	e := newBenchEnv(b)
	n := exportRowsWanted()
	e.seedRows(b, n)
	ctx := context.Background()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		// Baseline: the database's own dump of the rows.
		t0 := time.Now()
		if e.db.Dialect == db.Postgres {
			conn, err := e.sqlDB.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			err = conn.Raw(func(dc any) error {
				_, err := dc.(*stdlib.Conn).Conn().PgConn().CopyTo(ctx, io.Discard,
					"COPY (SELECT * FROM corrections_master WHERE is_outlier = false ORDER BY created_at, id) TO STDOUT")
				return err
			})
			conn.Close()
			if err != nil {
				b.Fatal(err)
			}
		} else {
			rows, err := e.sqlDB.QueryContext(ctx, "SELECT id, ocr_text, original_inference FROM corrections_master WHERE is_outlier = 0 ORDER BY created_at, id")
			if err != nil {
				b.Fatal(err)
			}
			var a, t, o string
			for rows.Next() {
				_ = rows.Scan(&a, &t, &o)
			}
			rows.Close()
		}
		baseWall := time.Since(t0)
		b.ReportMetric(float64(n)/baseWall.Seconds(), "db_dump_rows/s")

		for _, format := range []Format{JSONL, Parquet} {
			peak := peakRSS()
			t0 := time.Now()
			resp, err := e.http.Get(e.url + "/corrections/export?format=" + string(format))
			if err != nil {
				b.Fatal(err)
			}
			var cw countWriter
			if _, err := io.Copy(&cw, resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			wall := time.Since(t0)
			if got := resp.Trailer.Get(TrailerCount); got != strconv.Itoa(n) || resp.Trailer.Get(TrailerExportError) != "" {
				b.Fatalf("%s export: count %q of %d, error %q", format, got, n, resp.Trailer.Get(TrailerExportError))
			}
			b.ReportMetric(float64(n)/wall.Seconds(), string(format)+"_rows/s")
			b.ReportMetric(peak(), string(format)+"_peak_rss_MiB")
			b.ReportMetric(float64(cw.n)/(1<<20), string(format)+"_MiB")
		}
	}
	b.ReportMetric(float64(n), "rows")
}

// BenchmarkPrepare is the CPU of the pure pipeline for one correction
// (validation, masking, normalisation, fingerprints, score).
func BenchmarkPrepare(b *testing.B) {
	s := &Service{taxonomy: DefaultTaxonomy(), mask: newMasker([]byte(testPIIKey))}
	cs := benchCorrections(1000)
	now := time.Now().UTC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.prepare(cs[i%len(cs)], now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeIngest is the CPU of decoding one correction's JSON.
func BenchmarkDecodeIngest(b *testing.B) {
	body := mustJSON(b, sample())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := decodeIngest(body, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGroupInsert is the store's side of a group commit: groups of
// 1, 16 and 128 prepared rows stored with one statement, with the CPU per
// row of this process and of PostgreSQL.
func BenchmarkGroupInsert(b *testing.B) {
	for _, size := range []int{1, 16, 128} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			e := newBenchEnv(b)
			rows := e.preparedRows(b, benchCorrections(b.N*size))
			ctx := context.Background()
			b.ResetTimer()
			cpu0 := cpuNow()
			for k := 0; k < b.N; k++ {
				group := make([]*correctionRow, size)
				for i := range group {
					group[i] = &rows[k*size+i]
				}
				if _, err := e.svc.store.insertCheckedRows(ctx, group); err != nil {
					b.Fatal(err)
				}
			}
			cpuNow().report(b, cpu0, b.N*size, "insert")
		})
	}
}

// BenchmarkDecodeIngestBatch is the wall time of decoding a body of 1,000
// corrections (which may use every core).
func BenchmarkDecodeIngestBatch(b *testing.B) {
	body := mustJSON(b, map[string]any{"corrections": benchCorrections(1000)})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := decodeIngest(body, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

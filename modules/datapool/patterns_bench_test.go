package datapool

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/ocrpool/ocrpool/modules/patternset"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// load sends n GETs to url from workers goroutines and returns requests per
// second and every request's latency.
func load(tb testing.TB, client *http.Client, url string, n, workers int) (rps float64, lat []time.Duration) {
	tb.Helper()
	lat = make([]time.Duration, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= n {
					return
				}
				t0 := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					tb.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					tb.Errorf("GET %s = %d", url, resp.StatusCode)
					return
				}
				lat[k] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), lat
}

// p99 is the 99th percentile of lat.
func p99(lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	lat = slices.Clone(lat)
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// BenchmarkPatternsGlobal serves a 500-pattern set to 64 concurrent
// connections and, in the same run, a bare gin handler returning the same
// bytes. Both go through a real TCP listener. The guard (authentication,
// rate limit, audit) is measured on its own in platform/guard.
func BenchmarkPatternsGlobal(b *testing.B) {
	ctx := context.Background()
	env := newTestEnv(b, withClock(fixedNow))
	set := &patternset.Set{Patterns: map[string][]patternset.Pattern{}}
	for i := 0; i < 500; i++ {
		m := fmt.Sprintf("Merchant %d", i)
		set.Patterns["merchant"] = append(set.Patterns["merchant"], patternset.Pattern{
			ID: fmt.Sprintf("t_%06d", i), Field: "merchant", Kind: "text", Pattern: fmt.Sprintf("(?i)\\bshop %d\\b", i),
			Phrases: []string{fmt.Sprintf("shop %d", i)}, CorrectedValue: m, Confidence: 0.9, Frequency: 10, LastSeen: fixedNow(),
		})
	}
	row := patternVersionRow{CreatedAt: fixedNow(), PatternCount: 500, AvgPatternConfidence: "0.900"}
	if err := env.svc.patterns.insertVersion(ctx, &row, func(name string) error {
		set.Version = name
		data, err := json.Marshal(set)
		row.PatternData = string(data)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := env.svc.ActivatePatterns(ctx, row.VersionName, "bench", ""); err != nil {
		b.Fatal(err)
	}
	served := httptest.NewServer(env.engine)
	defer served.Close()
	cur := env.svc.serving.cur.Load()
	gin.SetMode(gin.ReleaseMode)

	// identity: a client that does not accept gzip. gzip: one that does, as
	// Go's, browsers' and most mobile HTTP clients do by default; it keeps
	// the bytes compressed, as an app on another machine would unpack them
	// there, not on the server's cores.
	for _, tc := range []struct {
		name     string
		encoding string
		body     []byte
	}{{"identity", "", cur.Body}, {"gzip", "gzip", cur.gzipped()}} {
		b.Run(tc.name, func(b *testing.B) {
			bare := gin.New()
			bare.GET("/patterns/global", func(c *gin.Context) {
				if tc.encoding != "" {
					c.Header("Content-Encoding", tc.encoding)
				}
				c.Data(http.StatusOK, "application/json; charset=utf-8", tc.body)
			})
			bareSrv := httptest.NewServer(bare)
			defer bareSrv.Close()

			var rt http.RoundTripper = &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, DisableCompression: true}
			if tc.encoding != "" {
				rt = acceptEncoding{rt, tc.encoding}
			}
			client := &http.Client{Transport: rt}
			const perRound, conns = 2000, 64
			var sRPS, bRPS float64
			var sLat, bLat []time.Duration
			b.ResetTimer()
			for range b.N {
				r, lat := load(b, client, bareSrv.URL+"/patterns/global", perRound, conns)
				bRPS, bLat = bRPS+r, append(bLat, lat...)
				r, lat = load(b, client, served.URL+"/patterns/global", perRound, conns)
				sRPS, sLat = sRPS+r, append(sLat, lat...)
			}
			sP99, bP99 := p99(sLat), p99(bLat)
			b.ReportMetric(sRPS/float64(b.N), "served_req/s")
			b.ReportMetric(bRPS/float64(b.N), "bare_req/s")
			b.ReportMetric(sRPS/bRPS, "ratio")
			b.ReportMetric(float64(sP99.Microseconds())/1000, "served_p99_ms")
			b.ReportMetric(float64(bP99.Microseconds())/1000, "bare_p99_ms")
			b.ReportMetric(float64(len(tc.body)), "body_bytes")
		})
	}
}

// acceptEncoding asks for an encoding on every request and, the header
// being set by hand, gets the body as sent.
type acceptEncoding struct {
	rt       http.RoundTripper
	encoding string
}

func (a acceptEncoding) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Encoding", a.encoding)
	return a.rt.RoundTrip(r)
}

// word spells n in letters ("bab", "bac", …): merchant names made of
// words, since learning skips numbers.
func word(n int) string {
	const consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
	out := []byte{}
	for {
		out = append(out, consonants[n%len(consonants)], vowels[(n/len(consonants))%len(vowels)])
		n /= len(consonants) * len(vowels)
		if n == 0 {
			return string(out)
		}
	}
}

// mix is splitmix64: the synthetic pool is a pure function of the row
// number, so every run (and both databases) sees the same corrections.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

var benchCategories = []string{"meals", "fuel", "transport", "supplies", "lodging", "groceries", "parking", "telecom",
	"software", "travel", "entertainment", "office", "medical", "training", "postage", "utilities", "rent", "repairs",
	"insurance", "subscriptions", "hardware", "printing", "cleaning", "security", "catering", "gifts", "advertising",
	"legal", "banking", "other"}

// benchCorrection is synthetic correction i of a pool with merchants
// merchants, created in the 120 days before now (so about a quarter falls
// outside the 90-day window). A receipt has several lines: the merchant's
// name as OCR read it, often a slogan of its own, a street and a cashier
// (noise shared across merchants), 2–5 items typical of its category,
// totals, the THANK YOU every receipt prints, a reference number and, for
// half of them, the phrase its group of ten merchants shares. OCR misreads
// a third of the names (0 for O, 5 for S, 1 for I): those are the aliases;
// a fifth of the inferred categories are wrong.
func benchCorrection(i, merchants int, now time.Time) correctionRow {
	r := mix(uint64(i))
	u := float64(r>>11) / (1 << 53)
	m := int(float64(merchants) * u * u) // skewed: a few big merchants, many small ones
	if m >= merchants {
		m = merchants - 1
	}
	r2 := mix(r)
	suffix := []string{"Trading", "Mart", "Cafe", "Sdn Bhd", "Station", "Bakery", "Pharmacy", "Store"}[m%8]
	name := strings.ToUpper(word(m)[:1]) + word(m)[1:] + " " + suffix
	cat := benchCategories[m%len(benchCategories)]
	if r2%20 == 0 {
		cat = benchCategories[(m*7+3)%len(benchCategories)]
	}
	header := strings.ToUpper(name)
	fields := []string{}
	if r2%3 == 0 {
		header = strings.NewReplacer("O", "0", "S", "5", "I", "1").Replace(header)
		fields = append(fields, "merchant")
	}
	origCat := cat
	if r2%5 == 1 {
		origCat = benchCategories[(m+int(r2%7)+1)%len(benchCategories)]
		fields = append(fields, "category")
	}
	var b strings.Builder
	b.WriteString(header)
	if r2%10 != 0 {
		fmt.Fprintf(&b, "\nWELCOME TO %s %s", strings.ToUpper(word(m+31)), strings.ToUpper(word(m*3+77)))
	}
	fmt.Fprintf(&b, "\nNO %d JALAN %s\nSERVED BY %s", r2%200+1, strings.ToUpper(word(int(r2>>8%500)+7000)), strings.ToUpper(word(int(r2>>20%300)+5000)))
	items := 2 + int(r2>>30%4)
	total := 0
	for k := 0; k < items; k++ {
		item := (m%len(benchCategories))*20 + int(mix(r2+uint64(k))%20)
		price := int(mix(r2+uint64(k)+100) % 5000)
		total += price
		fmt.Fprintf(&b, "\n%s %s %d X %d.%02d", strings.ToUpper(word(20000+item)), strings.ToUpper(word(30000+item%7)), k+1, price/100, price%100)
	}
	fmt.Fprintf(&b, "\nSUBTOTAL %d.%02d\nSST 6%% %d.%02d\nTOTAL RM %d.%02d\nCASH %d.00", total/100, total%100, total*6/10000, total*6/100%100, total*106/10000, total*106/100%100, total*106/10000+1)
	if r2%5 != 0 {
		b.WriteString("\nTHANK YOU PLEASE COME AGAIN")
	}
	if r2%2 == 0 {
		fmt.Fprintf(&b, "\nMEMBER OF %s GROUP", strings.ToUpper(word(m/10+9000)))
	}
	fmt.Fprintf(&b, "\nREF %016X", r)
	id := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(r2>>32), uint16(r2>>16), uint16(r2)&0xfff,
		uint16(mix(r2)>>48)&0x3fff|0x8000, mix(r2+1)&0xffffffffffff)
	quality := fmt.Sprintf("%.2f", 0.4+float64(r2>>40%61)/100)
	orig, _ := json.Marshal(map[string]string{"merchant": header, "category": origCat, "amount": fmt.Sprintf("%d.%02d", total*106/10000, total*106/100%100)})
	return correctionRow{
		ID: id, SourceApp: "bench", SourceEnvironment: "bench",
		CreatedAt: now.Add(-time.Duration(r2>>12%(120*24*60)) * time.Minute), UserIDHash: "h", OCRProvider: "tesseract",
		OCRText: b.String(), OriginalInference: string(orig),
		CorrectedMerchant: &name, CorrectedCategory: &cat,
		FieldsCorrected:  textList{Items: fields},
		DataQualityScore: &quality, IsOutlier: r2%100 == 7, IngestedAt: now, LastModifiedAt: now,
	}
}

// seedBench fills the pool with n synthetic corrections: pgx's COPY on
// PostgreSQL (1,000,000 rows in well under a minute), GORM batches on
// SQLite.
func seedBench(tb testing.TB, env *testEnv, n, merchants int) {
	tb.Helper()
	ctx := context.Background()
	if env.db.Dialect != db.Postgres {
		rows := make([]correctionRow, 0, 1000)
		for i := 0; i < n; i++ {
			r := benchCorrection(i, merchants, fixedNow())
			r.FieldsCorrected.Dialect = env.db.Dialect
			rows = append(rows, r)
			if len(rows) == cap(rows) || i == n-1 {
				if err := env.db.Gorm.WithContext(ctx).CreateInBatches(rows, 200).Error; err != nil {
					tb.Fatal(err)
				}
				rows = rows[:0]
			}
		}
		return
	}
	sqlDB, err := env.db.Gorm.DB()
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	cols := []string{"id", "source_app", "source_environment", "created_at", "user_id_hash", "ocr_provider", "ocr_text",
		"original_inference", "corrected_merchant", "corrected_category", "fields_corrected", "data_quality_score",
		"is_outlier", "ingested_at", "last_modified_at"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		r := benchCorrection(i, merchants, fixedNow())
		i++
		id, err := uuid.Parse(r.ID)
		if err != nil {
			return nil, err
		}
		q, err := strconv.ParseFloat(*r.DataQualityScore, 64)
		if err != nil {
			return nil, err
		}
		quality := pgtype.Numeric{Int: big.NewInt(int64(math.Round(q * 100))), Exp: -2, Valid: true}
		return []any{[16]byte(id), r.SourceApp, r.SourceEnvironment, r.CreatedAt, r.UserIDHash, r.OCRProvider, r.OCRText,
			r.OriginalInference, *r.CorrectedMerchant, *r.CorrectedCategory, r.FieldsCorrected.Items, quality,
			r.IsOutlier, r.IngestedAt, r.LastModifiedAt}, nil
	})
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		if _, err := pc.CopyFrom(ctx, pgx.Identifier{"corrections_master"}, cols, src); err != nil {
			return err
		}
		// What autovacuum does soon after such a load (and would otherwise do
		// while the benchmark runs): statistics, and pages marked all-visible.
		_, err := pc.Exec(ctx, "VACUUM (ANALYZE) corrections_master")
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkRefresh learns a pattern set over a pool of synthetic
// corrections (see benchCorrection) and, in the same run, times the
// architecture document's bare aggregation query over the same rows.
// OCRPOOL_BENCH_REFRESH_N sets the pool size (default 20,000) and
// OCRPOOL_BENCH_REFRESH_MERCHANTS the merchants (default n/200, the issue's
// 5,000 at 1,000,000).
func BenchmarkRefresh(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("OCRPOOL_BENCH_REFRESH_N")); err == nil && v > 0 {
		n = v
	}
	merchants := max(n/200, 1)
	if v, err := strconv.Atoi(os.Getenv("OCRPOOL_BENCH_REFRESH_MERCHANTS")); err == nil && v > 0 {
		merchants = v
	}
	ctx := context.Background()
	env := newTestEnv(b, withClock(fixedNow))
	seedBench(b, env, n, merchants)

	bare := `SELECT corrected_merchant, original_inference->>'merchant' AS orig, COUNT(*) AS frequency
		FROM corrections_master
		WHERE created_at >= ? AND used_in_training = FALSE
		GROUP BY corrected_merchant, original_inference->>'merchant'
		HAVING COUNT(*) >= 3`
	if env.db.Dialect == db.SQLite {
		bare = `SELECT corrected_merchant, json_extract(original_inference, '$.merchant') AS orig, COUNT(*) AS frequency
		FROM corrections_master
		WHERE created_at >= ? AND used_in_training = 0
		GROUP BY corrected_merchant, json_extract(original_inference, '$.merchant')
		HAVING COUNT(*) >= 3`
	}
	// A daily refresh validates against the active version: the first
	// refresh, untimed, makes one.
	first, err := env.svc.RefreshPatterns(ctx, "bench")
	if err != nil || !first.Activated {
		b.Fatalf("first refresh = %+v, %v", first, err)
	}
	var (
		refresh, query time.Duration
		res            RefreshResult
	)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		var groups []struct {
			CorrectedMerchant string
			Orig              string
			Frequency         int
		}
		if err := env.db.Gorm.Raw(bare, fixedNow().Add(-90*24*time.Hour)).Scan(&groups).Error; err != nil {
			b.Fatal(err)
		}
		query += time.Since(t0)
		if len(groups) == 0 {
			b.Fatal("the bare query found no groups")
		}

		// Each round learns from scratch: the newest version's content hash
		// is changed so that it does not short-cut the work.
		b.StopTimer()
		if err := env.db.Gorm.Exec("UPDATE pattern_cache_versions SET content_hash = ? WHERE is_active = ?", fmt.Sprintf("bench-%d", i), true).Error; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 = time.Now()
		res, err = env.svc.RefreshPatterns(ctx, "bench")
		refresh += time.Since(t0)
		if err != nil || !res.Created || !res.Activated || res.Validation.ActiveVersion == "" {
			b.Fatalf("refresh = %+v, %v", res, err)
		}
		// The served copy is compressed in the background: not while the
		// next round's bare query runs.
		if cur := env.svc.serving.current(ctx); cur != nil {
			cur.gzipped()
		}
	}
	b.StopTimer()
	row, err := env.svc.patterns.version(ctx, res.Version)
	if err != nil {
		b.Fatal(err)
	}
	set, err := patternset.Parse([]byte(row.PatternData))
	if err != nil {
		b.Fatal(err)
	}
	// Where the last refresh spent its time (the service's debug log).
	for _, line := range strings.Split(env.logs.String(), "\n") {
		if strings.Contains(line, "pattern refresh timings") {
			b.Log(line)
		}
	}
	b.ReportMetric(refresh.Seconds()/float64(b.N), "refresh_s")
	b.ReportMetric(query.Seconds()/float64(b.N), "bare_query_s")
	b.ReportMetric(refresh.Seconds()/query.Seconds(), "ratio")
	b.ReportMetric(float64(n), "corrections")
	b.ReportMetric(float64(set.Stats.Texts), "texts_read")
	b.ReportMetric(float64(set.Count()), "patterns")
}

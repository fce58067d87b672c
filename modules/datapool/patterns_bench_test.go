package datapool

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ocrpool/ocrpool/modules/patternset"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// load sends n GETs to url from workers goroutines and returns requests per
// second and the 99th percentile latency.
func load(tb testing.TB, client *http.Client, url string, n, workers int) (rps float64, p99 time.Duration) {
	tb.Helper()
	lat := make([]time.Duration, n)
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
	elapsed := time.Since(start)
	slices.Sort(lat)
	return float64(n) / elapsed.Seconds(), lat[n*99/100]
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
	body := env.svc.serving.cur.Load().Body
	gin.SetMode(gin.ReleaseMode)
	bare := gin.New()
	bare.GET("/patterns/global", func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", body) })
	bareSrv := httptest.NewServer(bare)
	defer bareSrv.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128}}
	const perRound, conns = 2000, 64
	var sRPS, bRPS float64
	var sP99, bP99 time.Duration
	b.ResetTimer()
	for range b.N {
		r, p := load(b, client, bareSrv.URL+"/patterns/global", perRound, conns)
		bRPS, bP99 = bRPS+r, max(bP99, p)
		r, p = load(b, client, served.URL+"/patterns/global", perRound, conns)
		sRPS, sP99 = sRPS+r, max(sP99, p)
	}
	b.ReportMetric(sRPS/float64(b.N), "served_req/s")
	b.ReportMetric(bRPS/float64(b.N), "bare_req/s")
	b.ReportMetric(sRPS/bRPS, "ratio")
	b.ReportMetric(float64(sP99.Microseconds())/1000, "served_p99_ms")
	b.ReportMetric(float64(bP99.Microseconds())/1000, "bare_p99_ms")
	b.ReportMetric(float64(len(body)), "body_bytes")
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

// BenchmarkRefresh learns a pattern set over a pool of corrections and, in
// the same run, times the architecture document's bare aggregation query
// over the same rows. OCRPOOL_BENCH_REFRESH_N sets the pool size (default
// 20,000; the 1,000,000 needs several GB of RAM and minutes).
func BenchmarkRefresh(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("OCRPOOL_BENCH_REFRESH_N")); err == nil && v > 0 {
		n = v
	}
	merchants := max(n/200, 1)
	ctx := context.Background()
	env := newTestEnv(b, withClock(fixedNow))
	rows := make([]correctionRow, 0, 1000)
	flush := func() {
		if err := env.db.Gorm.WithContext(ctx).CreateInBatches(rows, 200).Error; err != nil {
			b.Fatal(err)
		}
		rows = rows[:0]
	}
	quality := "0.80"
	for i := 0; i < n; i++ {
		m := i % merchants
		merchant := fmt.Sprintf("Merchant %d", m)
		category := []string{"meals", "fuel", "transport", "supplies", "lodging"}[m%5]
		id := uuid.NewString()
		rows = append(rows, correctionRow{
			ID: id, SourceApp: "bench", SourceEnvironment: "bench", SourceCorrectionID: &id,
			CreatedAt: fixedNow().Add(-time.Duration(i%(80*24)) * time.Hour), UserIDHash: "h", OCRProvider: "tesseract",
			OCRText:           fmt.Sprintf("%s TRADING\nBRANCH %d\nITEM %d\nTOTAL %d.00\nTHANK YOU FOR VISITING %s", word(m), i%7, i, i%50, word(m+7)),
			OriginalInference: fmt.Sprintf(`{"merchant":"SH0P %d"}`, m),
			CorrectedMerchant: &merchant, CorrectedCategory: &category,
			FieldsCorrected:  textList{Items: []string{"merchant"}, Dialect: env.db.Dialect},
			DataQualityScore: &quality, IngestedAt: fixedNow(), LastModifiedAt: fixedNow(),
		})
		if len(rows) == cap(rows) {
			flush()
		}
	}
	flush()

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
	var refresh, query time.Duration
	b.ResetTimer()
	for range b.N {
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

		// Each round learns from scratch: drop the stored versions so the
		// content hash does not short-cut the work.
		env.db.Gorm.Exec("DELETE FROM pattern_activations")
		env.db.Gorm.Exec("DELETE FROM pattern_cache_versions")
		env.svc.serving.cur.Store(nil)
		t0 = time.Now()
		res, err := env.svc.RefreshPatterns(ctx, "bench")
		refresh += time.Since(t0)
		if err != nil || !res.Created {
			b.Fatalf("refresh = %+v, %v", res, err)
		}
	}
	b.ReportMetric(refresh.Seconds()/float64(b.N), "refresh_s")
	b.ReportMetric(query.Seconds()/float64(b.N), "bare_query_s")
	b.ReportMetric(refresh.Seconds()/query.Seconds(), "ratio")
	b.ReportMetric(float64(n), "corrections")
}

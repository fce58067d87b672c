package datapool

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/ocrpool/ocrpool/modules/patternset"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// What a refresh reads of the pool is bounded, whatever its size: counts
// come from one GROUP BY, and OCR texts only for samples chosen by a stable
// hash of the correction id (patternset.SampleKey). See docs/PATTERNS.md.
const (
	// defaultSamplePerValue: about this many texts per (field, value) for
	// its candidate phrases. A value with fewer examples is read whole, so
	// small pools learn exactly; a phrase must be in 3 of them (25 %) to
	// be a candidate of a larger value.
	defaultSamplePerValue = 12
	// defaultSamplePool: about this many texts of the whole pool, uniform,
	// to measure each candidate's precision.
	defaultSamplePool = 20_000
	// defaultHoldoutSample: about this many held-out corrections validate
	// a candidate against the active version.
	defaultHoldoutSample = 5_000
	// defaultGroupChunk: groups read before they are handed to a
	// normaliser (see readGroups).
	defaultGroupChunk = 1024
)

func (s *patternStore) samplingOrDefault() (patternset.Sampling, int) {
	smp, h := s.sampling, s.holdoutSample
	if smp == (patternset.Sampling{}) {
		smp = patternset.Sampling{PerValue: defaultSamplePerValue, Pool: defaultSamplePool}
	}
	if h <= 0 {
		h = defaultHoldoutSample
	}
	return smp, h
}

// learningFilter selects the corrections a refresh learns from: not
// outliers, created in (From, To], quality at least MinQuality.
type learningFilter struct {
	From, To     time.Time
	MinQuality   float64
	HoldoutPct   int
	MinFrequency int
}

// rawValues are a correction's stored values that learning reads.
type rawValues struct {
	Merchant, Category         nullText
	OrigMerchant, OrigCategory nullText
	// MerchantFixed and CategoryFixed: the field is empty and the user
	// named it in fields_corrected (so the original is known to be wrong).
	MerchantFixed, CategoryFixed bool
}

// valuesFunc turns stored values into what learning sees: the original
// and the confirmed values by field. It is called from several goroutines.
type valuesFunc func(rawValues) (original, corrected map[string]string)

// learningPool is what a refresh learns and validates from.
type learningPool struct {
	Pool patternset.Pool
	// Holdout is the sample of the held-out corrections.
	Holdout []patternset.Example
	// Learn and Held count the corrections on each side.
	Learn, Held int
	// groupsTook is how long counting took, for the debug log.
	groupsTook time.Duration
}

// learnSQL holds one dialect's spelling of what the learning queries
// compute per row. holdoutKey and sampleKey are the digits of the ID that
// patternset.Holdout and patternset.SampleKey read from a UUID (which every
// corrections_master id is), as a value that compares like the number
// they spell with a bound made by bound: bytes in PostgreSQL, lower-case
// hex text in SQLite. Comparing them costs a fraction of turning them
// into numbers, on every row of the window. The original values and
// whether the user marked them wrong are columns (migration 0005) in both.
type learnSQL struct {
	postgres              bool
	holdoutKey, sampleKey string
	thresholds            string // a JSON object {key: bound} as rows (k, t)
	// withThresholds: read the thresholds in a materialized WITH, so
	// SQLite builds an index on them instead of walking the JSON for every
	// row (22 s instead of 1 at 200,000 rows). PostgreSQL hashes them
	// either way, and a WITH would keep its scan from running in parallel.
	withThresholds bool
	quality        string
	// groupBy is how groupsSQL groups (see there).
	groupBy string
}

// Digits of the keys: four hex digits hold out, eight sample.
const (
	holdoutDigits = 4
	sampleDigits  = 8
	// sampleSpace is the number of sample keys: a threshold t selects
	// t/sampleSpace of the rows.
	sampleSpace = uint64(1) << (4 * sampleDigits)
)

func (s *patternStore) learnSQL() learnSQL {
	if s.dialect == db.Postgres {
		return learnSQL{
			postgres: true,
			// Bytes 14–15 and 10–13 of the UUID.
			holdoutKey: "substring(uuid_send(id) from 15 for 2)",
			sampleKey:  "substring(uuid_send(id) from 11 for 4)",
			thresholds: "(SELECT key AS k, decode(value, 'hex') AS t FROM jsonb_each_text(CAST(CAST(? AS text) AS jsonb)))",
			quality:    "data_quality_score >= ?",
			groupBy:    "GROUPING SETS ((" + groupColumns + "), ()) HAVING GROUPING(corrected_merchant) = 0",
		}
	}
	return learnSQL{
		// Characters 33–36 and 25–32 of the text form.
		holdoutKey:     "substr(lower(id), 33, 4)",
		sampleKey:      "substr(lower(id), 25, 8)",
		thresholds:     "(SELECT key AS k, value AS t FROM json_each(?))",
		withThresholds: true,
		quality:        "CAST(data_quality_score AS REAL) >= ?",
		groupBy:        groupColumns,
	}
}

// boundHex spells a bound on a key of digits hex digits: key < bound is
// the key's number < t. A bound the digits cannot reach is longer than any
// key and above all of them, both as bytes and as text.
func boundHex(t uint64, digits int) string {
	if t >= 1<<(4*digits) {
		return strings.Repeat("f", digits+2)
	}
	return fmt.Sprintf("%0*x", digits, t)
}

// bound is boundHex as a query parameter of the dialect.
func (q learnSQL) bound(t uint64, digits int) any {
	h := boundHex(t, digits)
	if q.postgres {
		b, _ := hex.DecodeString(h) // an even number of hex digits: no error
		return b
	}
	return h
}

// rowsSQL selects the filtered corrections with the columns both queries
// need, and the condition where adds; its parameters are rowsArgs, then
// where's.
func (q learnSQL) rowsSQL(extra, where string) string {
	return `SELECT corrected_merchant, corrected_category, original_merchant AS om, original_category AS oc,
		original_merchant_wrong AS mf, original_category_wrong AS cf,
		` + q.holdoutKey + ` < ? AS held, created_at` + extra + `
	FROM corrections_master
	WHERE is_outlier = ? AND created_at > ? AND created_at <= ?
		AND data_quality_score IS NOT NULL AND ` + q.quality + where
}

// inList is "expr is one of the strings of a parameter" in the dialect:
// an array hashed once per query in PostgreSQL, a JSON array in SQLite.
func (q learnSQL) inList(expr string) string {
	if q.postgres {
		return expr + " = ANY(CAST(? AS text[]))"
	}
	return expr + " IN (SELECT value FROM json_each(?))"
}

// listArg is a list of strings as inList's parameter.
func (q learnSQL) listArg(values []string) (any, error) {
	if q.postgres {
		return values, nil
	}
	b, err := json.Marshal(values)
	return string(b), err
}

func (q learnSQL) rowsArgs(f learningFilter) []any {
	return []any{q.bound(patternset.HoldoutBound(f.HoldoutPct), holdoutDigits), false, f.From, f.To, f.MinQuality}
}

// groupColumns are what groupsSQL groups by: everything learning reads
// but the text.
const groupColumns = "corrected_merchant, corrected_category, om, oc, mf, cf"

// groupsSQL counts the filtered corrections by groupColumns, each side of
// the held-out slice. The side is not a key: with only columns to group
// by, which migration 0005's statistics describe, PostgreSQL sees how few
// the groups are and hashes them. Every aggregate that names held
// computes it again for each row, so the learned side is the total less
// the held-out one (4 % less CPU).
//
// PostgreSQL spells the grouping as a set beside the empty one (whose
// grand total HAVING drops): grouping sets are never aggregated in
// parallel parts, so its one worker filters the rows and the leader hashes
// them all once. With a tenth as many groups as rows, the parallel parts
// would each hash nearly every group and then merge them: at 1,000,000
// corrections that is 0.42 s and 0.84 CPU-seconds against 0.35 s and 0.58
// (docs/BENCHMARKS.md).
func (q learnSQL) groupsSQL() string {
	return `SELECT ` + groupColumns + `,
		COUNT(*) AS total, COUNT(*) FILTER (WHERE held) AS held,
		MIN(created_at) FILTER (WHERE NOT held) AS first_at, MAX(created_at) FILTER (WHERE NOT held) AS last_at
	FROM (` + q.rowsSQL("", "") + `) r
	GROUP BY ` + q.groupBy
}

// A value is keyed by the column it comes from (see rawKey): the stored
// corrected merchant or category, or the original one the user left.
const (
	keyCorrected = 'c'
	keyOriginal  = 'o'
)

// sampleThresholds are the per-value bounds of a sampling pass, by field
// and by the column the value comes from: {value: boundHex}. Empty maps
// are left out of the query.
type sampleThresholds struct {
	merchantCorrected, merchantOriginal map[string]string
	categoryCorrected, categoryOriginal map[string]string
	// prefilter, when set, lets through only the rows that may be
	// sampled (see prefilterSamples), before the joins.
	prefilter *samplePrefilter
}

// samplePrefilter: a row can only be sampled when its sample key is below
// bound or one of its values is listed (by the map it is keyed in).
type samplePrefilter struct {
	bound                               uint64
	merchantCorrected, merchantOriginal []string
	categoryCorrected, categoryOriginal []string
}

// prefilterSamples chooses the pre-filter that lets through the fewest
// rows, by the counts: every row whose sample key is below a bound, and
// every row of a value whose threshold is above it. Joining the
// thresholds is most of the sampling pass's cost (0.52 s against 0.33 s
// without the joins at 1,000,000 corrections, one process), and it need
// not be paid for rows that no threshold can select. A value's threshold
// falls as it has more examples, so the big values, which have most of the
// rows, sit below the bound and the small ones, with few rows, are listed.
// rows is the number of rows in the window; floor the bound no row below
// escapes anyway (the pool's and the held-out sample's thresholds).
func prefilterSamples(rows int, floor uint64, keys [4]map[string]int, th [4]map[string]uint64) *samplePrefilter {
	type value struct {
		m    int
		v    string
		t    uint64
		rows int
	}
	var vs []value
	for m := range th {
		for v, t := range th[m] {
			if t > floor {
				vs = append(vs, value{m, v, t, keys[m][v]})
			}
		}
	}
	// Highest threshold first; ties in a fixed order, so that the same
	// counts give the same query.
	slices.SortFunc(vs, func(a, b value) int {
		if c := cmp.Compare(b.t, a.t); c != 0 {
			return c
		}
		if c := cmp.Compare(a.m, b.m); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	// Listing the first i values leaves the bound at the next one's
	// threshold (or the floor).
	best, bestBound, bestCost, listed := 0, floor, math.Inf(1), 0
	for i := 0; i <= len(vs); i++ {
		bound := floor
		if i < len(vs) {
			bound = max(floor, vs[i].t)
		}
		if c := float64(expectedRows(rows, bound) + listed); c < bestCost {
			best, bestBound, bestCost = i, bound, c
		}
		if i < len(vs) {
			listed += vs[i].rows
		}
	}
	if bestBound >= sampleSpace {
		return nil // everything passes: no pre-filter
	}
	pf := &samplePrefilter{bound: bestBound}
	lists := [4]*[]string{&pf.merchantCorrected, &pf.merchantOriginal, &pf.categoryCorrected, &pf.categoryOriginal}
	for _, v := range vs[:best] {
		*lists[v.m] = append(*lists[v.m], v.v)
	}
	return pf
}

// samplesSQL reads the texts of the samples: a learned row when its sample
// key is below the pool's bound or that of its merchant or category, a
// held-out row when below the holdout's. Each non-empty threshold map is
// a join on the column its keys come from. Its parameters are samplesArgs.
func (q learnSQL) samplesSQL(th sampleThresholds) string {
	extra := `, id, ocr_text, ` + q.sampleKey + ` AS skey`
	// originalValue is the original value of a row whose user left the
	// field as OCR read it (rawKey's 'o'), else NULL.
	originalValue := func(field string) string {
		return `CASE WHEN COALESCE(corrected_` + field + `, '') = '' AND NOT original_` + field + `_wrong THEN original_` + field + ` END`
	}
	originalKey := func(field, as string) string { return `, ` + originalValue(field) + ` AS ` + as }
	where := ""
	if pf := th.prefilter; pf != nil {
		conds := []string{q.sampleKey + " < ?"}
		for _, l := range []struct {
			values []string
			expr   string
		}{
			{pf.merchantCorrected, "corrected_merchant"}, {pf.merchantOriginal, originalValue("merchant")},
			{pf.categoryCorrected, "corrected_category"}, {pf.categoryOriginal, originalValue("category")},
		} {
			if len(l.values) > 0 {
				conds = append(conds, q.inList(l.expr))
			}
		}
		where = "\n\t\tAND (" + strings.Join(conds, " OR ") + ")"
	}
	type join struct {
		alias  string
		m      map[string]string
		on     string
		column string // selected for on, when it is not a stored column
	}
	joins := []join{
		{"mc", th.merchantCorrected, "r.corrected_merchant", ""},
		{"mo", th.merchantOriginal, "r.omk", originalKey("merchant", "omk")},
		{"cc", th.categoryCorrected, "r.corrected_category", ""},
		{"co", th.categoryOriginal, "r.ock", originalKey("category", "ock")},
	}
	var with []string
	var from, below strings.Builder
	for _, j := range joins {
		if len(j.m) == 0 {
			continue
		}
		extra += j.column
		if q.withThresholds {
			with = append(with, j.alias+" AS MATERIALIZED "+q.thresholds)
			from.WriteString("\n\tLEFT JOIN " + j.alias + " ON " + j.alias + ".k = " + j.on)
		} else {
			from.WriteString("\n\tLEFT JOIN " + q.thresholds + " " + j.alias + " ON " + j.alias + ".k = " + j.on)
		}
		// A row without a bound compares with NULL: not below.
		below.WriteString(" OR r.skey < " + j.alias + ".t")
	}
	prefix := ""
	if len(with) > 0 {
		prefix = "WITH " + strings.Join(with, ", ") + "\n\t"
	}
	return prefix + `SELECT r.id, r.ocr_text, r.corrected_merchant, r.corrected_category, r.om, r.oc, r.mf, r.cf, r.held, r.created_at
	FROM (` + q.rowsSQL(extra, where) + `) r` + from.String() + `
	WHERE CASE WHEN r.held THEN r.skey < ? ELSE r.skey < ?` + below.String() + ` END`
}

// samplesArgs are samplesSQL(th)'s parameters, in the order its text uses
// them.
func (q learnSQL) samplesArgs(f learningFilter, th sampleThresholds, holdoutThr, poolThr uint64) ([]any, error) {
	var maps []any
	for _, m := range []map[string]string{th.merchantCorrected, th.merchantOriginal, th.categoryCorrected, th.categoryOriginal} {
		if len(m) == 0 {
			continue
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		maps = append(maps, string(b))
	}
	rows := q.rowsArgs(f)
	if pf := th.prefilter; pf != nil {
		rows = append(rows, q.bound(pf.bound, sampleDigits))
		for _, l := range [][]string{pf.merchantCorrected, pf.merchantOriginal, pf.categoryCorrected, pf.categoryOriginal} {
			if len(l) == 0 {
				continue
			}
			arg, err := q.listArg(l)
			if err != nil {
				return nil, err
			}
			rows = append(rows, arg)
		}
	}
	bounds := []any{q.bound(holdoutThr, sampleDigits), q.bound(poolThr, sampleDigits)}
	if q.withThresholds {
		return append(append(maps, rows...), bounds...), nil
	}
	return append(append(rows, maps...), bounds...), nil
}

// rawKey is how a row's merchant or category is keyed for sampling: the
// stored corrected value, else the original one unless the user marked it
// wrong, after a byte saying which (samplesSQL joins on that column).
func rawKey(corrected, original nullText, fixed bool) string {
	switch {
	case corrected.Valid && corrected.String != "":
		return string(rune(keyCorrected)) + corrected.String
	case !fixed && original.Valid:
		return string(rune(keyOriginal)) + original.String
	}
	return ""
}

// readLearningPool reads what a refresh needs, in one read-only snapshot:
// the counts of every group of corrections, then the sampled texts. Memory
// is bounded by the number of groups and the sample sizes, not the pool.
func (s *patternStore) readLearningPool(ctx context.Context, f learningFilter, values valuesFunc) (*learningPool, error) {
	smp, holdoutSample := s.samplingOrDefault()
	q := s.learnSQL()
	// Every sampled row has the values of a group: the groups' maps are
	// kept by the key of their raw values (rawValues.appendKey) and shared
	// (learning only reads them) instead of built again for each sampled
	// row.
	var cache map[string]mapped
	sampleValues := func(key []byte) (mapped, error) {
		m, ok := cache[string(key)]
		if !ok {
			rv, err := rawValuesOfKey(key)
			if err != nil {
				return m, err
			}
			m.original, m.corrected = values(rv)
			cache[string(key)] = m
		}
		return m, nil
	}
	out := &learningPool{Pool: patternset.Pool{Sampling: smp}}
	read := func(query queryFunc) error {
		t0 := time.Now()
		var (
			merchantKeys, categoryKeys map[string]int
			err                        error
		)
		err = query(q.groupsSQL(), q.rowsArgs(f), func(rows learningRows) error {
			merchantKeys, categoryKeys, cache, err = s.readGroups(rows, values, out)
			return err
		})
		out.groupsTook = time.Since(t0)
		if err != nil {
			return fmt.Errorf("counting corrections: %w", err)
		}
		if out.Learn == 0 && out.Held == 0 {
			return nil
		}
		// Thresholds only for the keys whose values sample more than the
		// pool's uniform sample does.
		poolThr := smp.PoolThreshold(out.Learn)
		// By map: merchant corrected, original; category corrected,
		// original (as sampleThresholds and samplePrefilter order them).
		var (
			counts [4]map[string]int
			thr    [4]map[string]uint64
		)
		for m := range thr {
			counts[m], thr[m] = map[string]int{}, map[string]uint64{}
		}
		for fi, keys := range []map[string]int{merchantKeys, categoryKeys} {
			for k, n := range keys {
				if n < f.MinFrequency {
					continue
				}
				if t := smp.ValueThreshold(n, out.Learn); t > poolThr {
					m := 2 * fi
					if k[0] == keyOriginal {
						m++
					}
					counts[m][k[1:]], thr[m][k[1:]] = n, t
				}
			}
		}
		var hex [4]map[string]string
		for m := range thr {
			hex[m] = make(map[string]string, len(thr[m]))
			for v, t := range thr[m] {
				hex[m][v] = boundHex(t, sampleDigits)
			}
		}
		th := sampleThresholds{merchantCorrected: hex[0], merchantOriginal: hex[1], categoryCorrected: hex[2], categoryOriginal: hex[3]}
		holdoutThr := patternset.Threshold(holdoutSample, out.Held)
		th.prefilter = prefilterSamples(out.Learn+out.Held, max(poolThr, holdoutThr), counts, thr)
		args, err := q.samplesArgs(f, th, holdoutThr, poolThr)
		if err != nil {
			return err
		}
		// About as many rows as the thresholds select (the samples
		// overlap, so this is a bound): read without growing the slices
		// again and again.
		want := expectedRows(out.Learn, poolThr)
		for _, keys := range []map[string]int{merchantKeys, categoryKeys} {
			for _, n := range keys {
				if n >= f.MinFrequency {
					want += expectedRows(n, smp.ValueThreshold(n, out.Learn))
				}
			}
		}
		out.Pool.Texts = make([]patternset.Example, 0, min(want, out.Learn))
		out.Holdout = make([]patternset.Example, 0, min(expectedRows(out.Held, holdoutThr), out.Held))
		err = query(q.samplesSQL(th), args, func(rows learningRows) error { return readSamples(rows, sampleValues, out) })
		if err != nil {
			return fmt.Errorf("reading sampled corrections: %w", err)
		}
		return nil
	}
	var err error
	if s.dialect == db.Postgres {
		err = s.inSnapshot(ctx, read)
	} else {
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return read(func(query string, args []any, scan func(learningRows) error) error {
				rows, err := tx.Raw(query, args...).Rows()
				if err != nil {
					return err
				}
				defer rows.Close()
				if err := scan(rows); err != nil {
					return err
				}
				return rows.Err()
			})
		})
	}
	if err != nil {
		return nil, dbError(err, "reading corrections for learning")
	}
	return out, nil
}

// learningRows is how both learning queries' rows are read: *sql.Rows
// (SQLite) and pgx.Rows (PostgreSQL) both are.
type learningRows interface {
	Next() bool
	Scan(dest ...any) error
}

// queryFunc runs a learning query (with ? placeholders) and hands its rows
// to scan; it reports the rows' error after scan returns.
type queryFunc func(query string, args []any, scan func(learningRows) error) error

// inSnapshot runs read's queries in one read-only, repeatable-read
// PostgreSQL transaction, through pgx itself rather than database/sql:
// database/sql turns every value of every row into a driver.Value and
// then converts it again, a fifth of a refresh's time in Go at 1,000,000
// corrections.
func (s *patternStore) inSnapshot(ctx context.Context, read func(queryFunc) error) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		dc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("reading corrections: a PostgreSQL connection is %T, not pgx's", driverConn)
		}
		tx, err := dc.Conn().BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only: nothing to keep or lose
		// JIT compiling these expressions costs more than it saves (2 s
		// at 1,000,000 rows). The planner cannot estimate the number of
		// groups of expressions and guesses ten times too many, so it
		// sorts 1,000,000 rows to group them; hashing is 1.5× faster
		// and needs a few MB per 100,000 groups. Both scans are worth
		// the parallel workers the default costs deny them (the count
		// takes 0.6 s instead of 0.9 s at 1,000,000 rows on two cores).
		// One worker beside the leader: a refresh is background work and
		// leaves the server's other cores to ingest; where the database
		// shares two cores with the service, a second worker only makes
		// three processes take turns (both scans are ~10 % faster with
		// one).
		for _, set := range []string{"SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'", "SET LOCAL enable_sort = off",
			"SET LOCAL parallel_setup_cost = 100", "SET LOCAL parallel_tuple_cost = 0.001", "SET LOCAL max_parallel_workers_per_gather = 1"} {
			if _, err := tx.Exec(ctx, set); err != nil {
				return err
			}
		}
		return read(func(query string, args []any, scan func(learningRows) error) error {
			rows, err := tx.Query(ctx, numbered(query), args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			if err := scan(rows); err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		})
	})
}

// numbered spells a query's ? placeholders as PostgreSQL's $1, $2, …
// (what gorm does for the other queries; the learning queries have no
// other question mark).
func numbered(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mapped is what a valuesFunc made of some raw values.
type mapped struct{ original, corrected map[string]string }

// readGroups reads the groups into out and returns, by raw key (rawKey)
// of each merchant and category, the number of learned corrections of the
// value it stands for (one: the key says which column it comes from), and
// the values of every group by its raw values.
func (s *patternStore) readGroups(rows learningRows, values valuesFunc, out *learningPool) (merchants, categories map[string]int, cache map[string]mapped, err error) {
	// The database sends the groups when it has counted them all, and
	// reading them is serial: their values are normalised (about as costly)
	// on other goroutines while later ones are read, a chunk at a time.
	size := s.groupChunk
	if size <= 0 {
		size = defaultGroupChunk
	}
	var (
		chunks []*groupChunk
		wg     sync.WaitGroup
		todo   = make(chan *groupChunk, 64)
	)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			var key []byte
			for c := range todo {
				c.maps = make([]mapped, len(c.rows))
				c.keys = make([]string, len(c.rows))
				c.fields = make([]groupFields, len(c.rows))
				for i := range c.rows {
					rv := &c.rows[i].rv
					m := &c.maps[i]
					m.original, m.corrected = values(*rv)
					key = rv.appendKey(key[:0])
					c.keys[i] = string(key)
					c.fields[i] = groupFields{
						merchantKey: rawKey(rv.Merchant, rv.OrigMerchant, rv.MerchantFixed),
						categoryKey: rawKey(rv.Category, rv.OrigCategory, rv.CategoryFixed),
						merchant:    strings.TrimSpace(m.corrected[patternset.FieldMerchant]),
						category:    strings.TrimSpace(m.corrected[patternset.FieldCategory]),
					}
				}
			}
		})
	}
	err = func() error {
		defer close(todo)
		c := &groupChunk{rows: make([]groupRow, 0, size)}
		var total, held int
		for rows.Next() {
			c.rows = c.rows[:len(c.rows)+1]
			g := &c.rows[len(c.rows)-1]
			if err := rows.Scan(&g.rv.Merchant, &g.rv.Category, &g.rv.OrigMerchant, &g.rv.OrigCategory, &g.rv.MerchantFixed, &g.rv.CategoryFixed,
				&total, &held, scannedTime{&g.first}, scannedTime{&g.last}); err != nil {
				return err
			}
			g.learn = total - held
			out.Held += held
			if len(c.rows) == size {
				chunks = append(chunks, c)
				todo <- c
				c = &groupChunk{rows: make([]groupRow, 0, size)}
			}
		}
		if len(c.rows) > 0 {
			chunks = append(chunks, c)
			todo <- c
		}
		return nil
	}()
	wg.Wait()
	if err != nil {
		return nil, nil, nil, err
	}
	n := 0
	for _, c := range chunks {
		n += len(c.rows)
	}
	// What is left is serial and keeps the database waiting for the
	// sampling query (50 ms at 64,000 groups): the cache is filled beside
	// the counting by value.
	var cwg sync.WaitGroup
	cwg.Go(func() {
		cache = make(map[string]mapped, n)
		for _, c := range chunks {
			for i, k := range c.keys {
				cache[k] = c.maps[i]
			}
		}
	})
	// Count each value over all its groups, then give every raw key its
	// value's count.
	fields := make([]*groupFields, 0, n)
	out.Pool.Groups = make([]patternset.Group, 0, n)
	mv, cv := make(map[string]int), make(map[string]int)
	for _, c := range chunks {
		for i, g := range c.rows {
			if g.learn == 0 {
				continue // held out only
			}
			m, f := c.maps[i], &c.fields[i]
			out.Learn += g.learn
			out.Pool.Groups = append(out.Pool.Groups, patternset.Group{Original: m.original, Corrected: m.corrected,
				Count: g.learn, First: g.first, Last: g.last})
			fields = append(fields, f)
			if f.merchant != "" {
				mv[f.merchant] += g.learn
			}
			if f.category != "" {
				cv[f.category] += g.learn
			}
		}
	}
	merchants, categories = make(map[string]int), make(map[string]int)
	for _, f := range fields {
		if f.merchant != "" && f.merchantKey != "" {
			merchants[f.merchantKey] = max(merchants[f.merchantKey], mv[f.merchant])
		}
		if f.category != "" && f.categoryKey != "" {
			categories[f.categoryKey] = max(categories[f.categoryKey], cv[f.category])
		}
	}
	cwg.Wait()
	return merchants, categories, cache, nil
}

// groupChunk is a run of groups as read, and their values once
// normalised; a chunk is handed to a normaliser when full and not touched
// by the reader again.
type groupChunk struct {
	rows []groupRow
	// Made by the normaliser, by row.
	maps   []mapped
	keys   []string // rawValues.appendKey
	fields []groupFields
}

// groupFields are a group's sampling keys (rawKey) and its merchant and
// category as learning counts them.
type groupFields struct {
	merchantKey, categoryKey string
	merchant, category       string
}

type groupRow struct {
	rv          rawValues
	learn       int
	first, last time.Time
}

// nullText is a text column that may be NULL. It scans like
// sql.NullString from database/sql and, from pgx, without the detour
// through driver values that pgx takes for a sql.Scanner (a third of
// reading the learning rows).
type nullText sql.NullString

func (n *nullText) Scan(v any) error { return (*sql.NullString)(n).Scan(v) }

func (n *nullText) ScanText(v pgtype.Text) error {
	*n = nullText{String: v.String, Valid: v.Valid}
	return nil
}

// scannedTime scans a timestamp into *t: time.Time from PostgreSQL, text
// from SQLite's aggregates (see scanTime).
type scannedTime struct{ t *time.Time }

func (st scannedTime) Scan(v any) (err error) {
	*st.t, err = scanTime(v)
	return err
}

// ScanTimestamptz is pgx's way in, without the detour of Scan.
func (st scannedTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	*st.t = time.Time{}
	if v.Valid {
		*st.t = v.Time.UTC()
	}
	return nil
}

// readSamples reads the sampled rows into out; values gives the values of
// a row by the key of its raw values.
func readSamples(rows learningRows, values func(key []byte) (mapped, error), out *learningPool) error {
	var key []byte
	for rows.Next() {
		var (
			id, text     string
			mf, cf, held bool
			t            time.Time
		)
		key = key[:0]
		k := keyText{&key}
		if err := rows.Scan(&id, &text, k, k, k, k, &mf, &cf, &held, scannedTime{&t}); err != nil {
			return err
		}
		m, err := values(appendKeyFlags(key, mf, cf))
		if err != nil {
			return err
		}
		e := patternset.Example{ID: id, Text: text, Original: m.original, Corrected: m.corrected, Quality: 1, At: t}
		if held {
			out.Holdout = append(out.Holdout, e)
		} else {
			out.Pool.Texts = append(out.Pool.Texts, e)
		}
	}
	return nil
}

// expectedRows is how many of n rows a sampling threshold t selects, on
// average.
func expectedRows(n int, t uint64) int {
	return int(float64(n) * float64(t) / float64(sampleSpace))
}

// appendKey appends the key the groups' values are kept by: each text as
// a byte saying whether it is NULL, then its length and bytes; then the
// two flags. readSamples builds the same key while it scans a row,
// from the driver's bytes, instead of copying four strings out of each
// row and hashing them as a struct (a third of reading the samples).
func (rv rawValues) appendKey(b []byte) []byte {
	for _, t := range [...]nullText{rv.Merchant, rv.Category, rv.OrigMerchant, rv.OrigCategory} {
		b = appendKeyText(b, t.Valid, t.String)
	}
	return appendKeyFlags(b, rv.MerchantFixed, rv.CategoryFixed)
}

func appendKeyText[T string | []byte](b []byte, valid bool, s T) []byte {
	if !valid {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendKeyFlags(b []byte, merchantFixed, categoryFixed bool) []byte {
	flag := func(v bool) byte {
		if v {
			return 1
		}
		return 0
	}
	return append(b, flag(merchantFixed), flag(categoryFixed))
}

// rawValuesOfKey reads the raw values back from their key.
func rawValuesOfKey(key []byte) (rawValues, error) {
	var (
		rv    rawValues
		texts = [...]*nullText{&rv.Merchant, &rv.Category, &rv.OrigMerchant, &rv.OrigCategory}
	)
	for _, t := range texts {
		if len(key) == 0 {
			return rv, errors.New("values key: too short")
		}
		valid := key[0] == 1
		key = key[1:]
		if !valid {
			continue
		}
		n, size := binary.Uvarint(key)
		if size <= 0 || uint64(len(key)-size) < n {
			return rv, errors.New("values key: bad length")
		}
		*t = nullText{String: string(key[size : size+int(n)]), Valid: true}
		key = key[size+int(n):]
	}
	if len(key) != 2 {
		return rv, errors.New("values key: bad flags")
	}
	rv.MerchantFixed, rv.CategoryFixed = key[0] == 1, key[1] == 1
	return rv, nil
}

// keyText scans a text column onto a values key (appendKeyText): from
// pgx, the driver's bytes as they are, without a string made of them;
// from database/sql, whatever it gives.
type keyText struct{ key *[]byte }

// ScanBytes is pgx's way in (pgtype.BytesScanner): v is nil for NULL and
// only valid until the next row.
func (k keyText) ScanBytes(v []byte) error {
	*k.key = appendKeyText(*k.key, v != nil, v)
	return nil
}

func (k keyText) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*k.key = appendKeyText(*k.key, false, "")
	case string:
		*k.key = appendKeyText(*k.key, true, x)
	case []byte:
		*k.key = appendKeyText(*k.key, true, x)
	default:
		return fmt.Errorf("text: cannot scan %T", v)
	}
	return nil
}

// scanTime reads a timestamp, which SQLite returns as text from an
// aggregate.
func scanTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x.UTC(), nil
	case []byte:
		return parseTime(string(x))
	case string:
		return parseTime(x)
	}
	return time.Time{}, fmt.Errorf("timestamp: cannot scan %T", v)
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp: cannot parse %q", s)
}

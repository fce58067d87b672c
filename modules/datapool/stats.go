package datapool

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// StatsQuery selects what GET /corrections/stats counts.
type StatsQuery struct {
	// Since limits the totals to corrections created since then; zero
	// counts everything.
	Since time.Time
	// Hours is how many hours of ingestion per hour to report (1–720,
	// default 48).
	Hours int
}

const (
	defaultStatsHours = 48
	maxStatsHours     = 720
)

// ParseStatsQuery reads the query string of GET /corrections/stats.
func ParseStatsQuery(v url.Values, now time.Time) (StatsQuery, error) {
	q := StatsQuery{Hours: defaultStatsHours}
	for k := range v {
		if k != "since" && k != "hours" {
			return q, apierr.Field(k, "unknown parameter (known: since, hours)")
		}
	}
	var err error
	if q.Since, err = ParseSince(v.Get("since"), now); err != nil {
		return q, apierr.Field("since", "%v", err)
	}
	if h := v.Get("hours"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 1 || n > maxStatsHours {
			return q, apierr.Field("hours", "must be a whole number from 1 to %d", maxStatsHours)
		}
		q.Hours = n
	}
	return q, nil
}

// Stats counts the pool for the dashboard: totals by app, environment and
// corrected field, the quality histogram and ingestion per hour.
func (s *Service) Stats(ctx context.Context, q StatsQuery) (Stats, error) {
	if q.Hours == 0 {
		q.Hours = defaultStatsHours
	}
	if q.Hours < 1 || q.Hours > maxStatsHours {
		return Stats{}, apierr.Field("hours", "must be a whole number from 1 to %d", maxStatsHours)
	}
	now := s.now().UTC()
	st := Stats{Hours: q.Hours}
	g := s.store.db.WithContext(ctx)
	where, args := "1=1", []any{}
	if !q.Since.IsZero() {
		where, args = "created_at >= ?", []any{q.Since.UTC()}
	}
	var totals struct {
		Total    int64 `gorm:"column:total"`
		Outliers int64 `gorm:"column:outliers"`
	}
	err := g.Raw(`SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN is_outlier = ? THEN 1 ELSE 0 END), 0) AS outliers
		FROM corrections_master WHERE `+where, append([]any{true}, args...)...).Scan(&totals).Error
	if err != nil {
		return Stats{}, dbError(err, "counting corrections")
	}
	st.Total, st.Outliers = totals.Total, totals.Outliers

	counts := func(sqlText string) ([]Count, error) {
		var out []Count
		if err := g.Raw(sqlText, args...).Scan(&out).Error; err != nil {
			return nil, dbError(err, "counting corrections")
		}
		if out == nil {
			out = []Count{}
		}
		return out, nil
	}
	group := func(col string) string {
		return `SELECT ` + col + ` AS key, COUNT(*) AS count FROM corrections_master WHERE ` + where +
			` GROUP BY ` + col + ` ORDER BY count DESC, key`
	}
	if st.ByApp, err = counts(group("source_app")); err != nil {
		return Stats{}, err
	}
	if st.ByEnvironment, err = counts(group("source_environment")); err != nil {
		return Stats{}, err
	}
	fieldsSQL := `SELECT f.value AS key, COUNT(*) AS count FROM corrections_master, json_each(corrections_master.fields_corrected) f
		WHERE ` + where + ` GROUP BY f.value ORDER BY count DESC, key`
	if s.dialect == db.Postgres {
		fieldsSQL = `SELECT f AS key, COUNT(*) AS count FROM corrections_master, unnest(fields_corrected) f
			WHERE ` + where + ` GROUP BY f ORDER BY count DESC, key`
	}
	if st.ByField, err = counts(fieldsSQL); err != nil {
		return Stats{}, err
	}

	bucket := `MIN(9, CAST(CAST(data_quality_score AS REAL) * 10 + 0.000001 AS INTEGER))`
	if s.dialect == db.Postgres {
		bucket = `LEAST(9, FLOOR(data_quality_score * 10))::int`
	}
	var hist []struct {
		Bucket int   `gorm:"column:bucket"`
		Count  int64 `gorm:"column:count"`
	}
	err = g.Raw(`SELECT `+bucket+` AS bucket, COUNT(*) AS count FROM corrections_master
		WHERE data_quality_score IS NOT NULL AND `+where+` GROUP BY 1`, args...).Scan(&hist).Error
	if err != nil {
		return Stats{}, dbError(err, "counting quality")
	}
	st.QualityHistogram = make([]Bucket, 10)
	for i := range st.QualityHistogram {
		st.QualityHistogram[i] = Bucket{Min: decimal.New(int64(i), -1), Max: decimal.New(int64(i+1), -1)}
	}
	for _, h := range hist {
		if h.Bucket >= 0 && h.Bucket < 10 {
			st.QualityHistogram[h.Bucket].Count += h.Count
		}
	}

	start := now.Truncate(time.Hour).Add(-time.Duration(q.Hours-1) * time.Hour)
	perHour := map[time.Time]int64{}
	if s.dialect == db.Postgres {
		var rows []struct {
			Hour  time.Time `gorm:"column:hour"`
			Count int64     `gorm:"column:count"`
		}
		err = g.Raw(`SELECT date_trunc('hour', ingested_at) AS hour, COUNT(*) AS count FROM corrections_master
			WHERE ingested_at >= ? GROUP BY 1`, start).Scan(&rows).Error
		for _, r := range rows {
			perHour[r.Hour.UTC()] += r.Count
		}
	} else {
		var rows []struct {
			Hour  string `gorm:"column:hour"`
			Count int64  `gorm:"column:count"`
		}
		err = g.Raw(`SELECT substr(ingested_at, 1, 13) AS hour, COUNT(*) AS count FROM corrections_master
			WHERE ingested_at >= ? GROUP BY 1`, start).Scan(&rows).Error
		for _, r := range rows {
			if t, perr := time.Parse("2006-01-02 15", strings.Replace(r.Hour, "T", " ", 1)); perr == nil {
				perHour[t.UTC()] += r.Count
			}
		}
	}
	if err != nil {
		return Stats{}, dbError(err, "counting ingestion per hour")
	}
	st.IngestedPerHour = make([]HourCount, 0, q.Hours)
	for h := start; !h.After(now); h = h.Add(time.Hour) {
		st.IngestedPerHour = append(st.IngestedPerHour, HourCount{Hour: h, Count: perHour[h]})
	}
	slices.SortFunc(st.IngestedPerHour, func(a, b HourCount) int { return a.Hour.Compare(b.Hour) })
	return st, nil
}

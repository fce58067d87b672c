package datapool

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// correctionRow is one row of corrections_master (0001 + 0003). Decimals
// are strings in their fixed notation ("12.50"): PostgreSQL casts them to
// DECIMAL, SQLite keeps the text, so both store exactly what was computed.
type correctionRow struct {
	ID                    string    `gorm:"column:id;primaryKey"`
	SourceApp             string    `gorm:"column:source_app"`
	SourceEnvironment     string    `gorm:"column:source_environment"`
	SourceCorrectionID    *string   `gorm:"column:source_correction_id"`
	CreatedAt             time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UserIDHash            string    `gorm:"column:user_id_hash"`
	OCRProvider           string    `gorm:"column:ocr_provider"`
	OCRText               string    `gorm:"column:ocr_text"`
	OCRConfidence         *string   `gorm:"column:ocr_confidence"`
	OriginalInference     string    `gorm:"column:original_inference"`
	CorrectedMerchant     *string   `gorm:"column:corrected_merchant"`
	CorrectedAmount       *string   `gorm:"column:corrected_amount"`
	CorrectedDate         *dateText `gorm:"column:corrected_date"`
	CorrectedCategory     *string   `gorm:"column:corrected_category"`
	CorrectedCardLastFour *string   `gorm:"column:corrected_card_last_four"`
	FieldsCorrected       textList  `gorm:"column:fields_corrected"`
	DataQualityScore      *string   `gorm:"column:data_quality_score"`
	IsOutlier             bool      `gorm:"column:is_outlier"`
	OutlierReason         *string   `gorm:"column:outlier_reason"`
	UsedInTraining        bool      `gorm:"column:used_in_training"`
	TrainingDatasetID     *string   `gorm:"column:training_dataset_id"`
	TrainingRunVersion    *string   `gorm:"column:training_run_version"`
	ModelVersion          *string   `gorm:"column:model_version"`
	PromptVersion         *string   `gorm:"column:prompt_version"`
	IngestedAt            time.Time `gorm:"column:ingested_at"`
	LastModifiedAt        time.Time `gorm:"column:last_modified_at"`
	ReceiptImagePathHash  *string   `gorm:"column:receipt_image_path_hash"`
	ExpenseIDToken        *string   `gorm:"column:expense_id_token"`
	PatternVersion        *string   `gorm:"column:pattern_version"`
	CorrectedCurrency     *string   `gorm:"column:corrected_currency"`
	TextFingerprint       *string   `gorm:"column:text_fingerprint"`
	ContentFingerprint    *string   `gorm:"column:content_fingerprint"`
}

func (correctionRow) TableName() string { return "corrections_master" }

// datasetRow is one row of training_datasets (0001 + 0003).
type datasetRow struct {
	DatasetID            string    `gorm:"column:dataset_id;primaryKey"`
	CreatedAt            time.Time `gorm:"column:created_at;autoCreateTime:false"`
	CorrectionCount      int64     `gorm:"column:correction_count"`
	DateRangeStart       dateText  `gorm:"column:date_range_start"`
	DateRangeEnd         dateText  `gorm:"column:date_range_end"`
	MinQualityScore      *string   `gorm:"column:min_quality_score"`
	IncludedEnvironments textList  `gorm:"column:included_environments"`
	IncludedApps         textList  `gorm:"column:included_apps"`
	ExportFormat         string    `gorm:"column:export_format"`
	FilePath             *string   `gorm:"column:file_path"`
	FileSizeBytes        int64     `gorm:"column:file_size_bytes"`
	Filters              string    `gorm:"column:filters"`
}

func (datasetRow) TableName() string { return "training_datasets" }

// textList is a TEXT[] column on PostgreSQL and a JSON array (TEXT) on
// SQLite. The store sets Dialect before writing; reading accepts both.
type textList struct {
	Items   []string
	Dialect db.Dialect
}

// GormDataType tells GORM the column holds text, whatever the dialect.
func (textList) GormDataType() string { return "text" }

// Value implements driver.Valuer: a PostgreSQL array literal or JSON; nil
// Items are NULL (an empty list is not).
func (l textList) Value() (driver.Value, error) {
	items := l.Items
	if items == nil {
		return nil, nil
	}
	if l.Dialect == db.Postgres {
		return pgArray(items), nil
	}
	b, err := json.Marshal(items)
	return string(b), err
}

// Scan implements sql.Scanner for both representations.
func (l *textList) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		l.Items = nil
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("text list: cannot scan %T", src)
	}
	items, err := parseTextList(s)
	l.Items = items
	return err
}

// pgArray writes a PostgreSQL text array literal, quoting every element.
func pgArray(items []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range it {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// parseTextList reads a JSON array of strings or a PostgreSQL array literal.
func parseTextList(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("text list: %w", err)
		}
		return out, nil
	}
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("text list: %q is neither JSON nor an array literal", s)
	}
	body := s[1 : len(s)-1]
	out := []string{}
	for i := 0; i < len(body); {
		var b strings.Builder
		if body[i] == '"' {
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
				i++
			}
			i++ // closing quote
		} else {
			for i < len(body) && body[i] != ',' {
				b.WriteByte(body[i])
				i++
			}
		}
		out = append(out, b.String())
		if i < len(body) && body[i] == ',' {
			i++
		}
	}
	return out, nil
}

// dateText is a DATE column as "yyyy-mm-dd". Drivers hand dates back as
// time.Time (PostgreSQL, and SQLite for DATE-declared columns) or text.
type dateText string

// Value implements driver.Valuer.
func (d dateText) Value() (driver.Value, error) { return string(d), nil }

// Scan implements sql.Scanner.
func (d *dateText) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*d = dateText(v.UTC().Format(time.DateOnly))
	case string:
		*d = dateText(firstN(v, 10))
	case []byte:
		*d = dateText(firstN(string(v), 10))
	case nil:
		*d = ""
	default:
		return fmt.Errorf("date: cannot scan %T", src)
	}
	return nil
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// store is the data pool's access to its tables. Only this file writes
// SQL; every error leaving it is an *apierr.Error or wraps a database
// error the caller reports as internal.
type store struct {
	db      *gorm.DB
	sql     *sql.DB
	dialect db.Dialect
	// insertOne is the INSERT of one row, built once.
	insertOne string
	// insertUnnest is insertUnnestSQL (PostgreSQL).
	insertUnnest string
	// checked caches insertCheckedSQL by row count.
	checkedMu sync.Mutex
	checked   map[int]string
	// pageSize is how many rows an export reads per query.
	pageSize int
}

func newStore(d *db.DB) (*store, error) {
	sqlDB, err := d.Gorm.DB()
	if err != nil {
		return nil, err
	}
	s := &store{db: d.Gorm, sql: sqlDB, dialect: d.Dialect, pageSize: exportPage, checked: map[int]string{}}
	s.insertOne = s.insertSQL(1)
	s.insertUnnest = insertUnnestSQL()
	return s, nil
}

// dbError translates what GORM returns into the module's errors.
func dbError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return apierr.New(apierr.NotFound, "%s not found", what)
	case errors.Is(err, context.DeadlineExceeded):
		return apierr.New(apierr.Timeout, "%s: the database did not answer in time", what)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// insertChunk is how many rows one INSERT carries: under SQLite's limit of
// 32766 bound variables (32 columns) and PostgreSQL's 65535.
const insertChunk = 500

// copyThreshold is the batch size from which PostgreSQL inserts go through
// COPY (see copyCorrections): two to four times faster than a multi-row
// INSERT for 1,000 rows, slower for a handful.
const copyThreshold = 50

// insertColumns are the columns ingest writes, in the order of rowArgs.
var insertColumns = []string{"id", "source_app", "source_environment", "source_correction_id", "created_at", "user_id_hash",
	"ocr_provider", "ocr_text", "ocr_confidence", "original_inference", "corrected_merchant", "corrected_amount",
	"corrected_date", "corrected_category", "corrected_card_last_four", "fields_corrected", "data_quality_score",
	"is_outlier", "outlier_reason", "used_in_training", "training_dataset_id", "training_run_version", "model_version",
	"prompt_version", "ingested_at", "last_modified_at", "receipt_image_path_hash", "expense_id_token", "pattern_version",
	"corrected_currency", "text_fingerprint", "content_fingerprint"}

var insertColumnList = strings.Join(insertColumns, ", ")

// rowArgs are r's values for a database/sql INSERT of insertColumns.
func rowArgs(r *correctionRow, dialect db.Dialect) []any {
	r.FieldsCorrected.Dialect = dialect
	fc, _ := r.FieldsCorrected.Value()
	var date any
	if r.CorrectedDate != nil {
		date = string(*r.CorrectedDate)
	}
	return []any{r.ID, r.SourceApp, r.SourceEnvironment, r.SourceCorrectionID, r.CreatedAt, r.UserIDHash,
		r.OCRProvider, r.OCRText, r.OCRConfidence, r.OriginalInference, r.CorrectedMerchant, r.CorrectedAmount,
		date, r.CorrectedCategory, r.CorrectedCardLastFour, fc, r.DataQualityScore,
		r.IsOutlier, r.OutlierReason, r.UsedInTraining, r.TrainingDatasetID, r.TrainingRunVersion, r.ModelVersion,
		r.PromptVersion, r.IngestedAt, r.LastModifiedAt, r.ReceiptImagePathHash, r.ExpenseIDToken, r.PatternVersion,
		r.CorrectedCurrency, r.TextFingerprint, r.ContentFingerprint}
}

// copyValues are r's values in the native types of pgx's binary COPY.
func copyValues(r *correctionRow) ([]any, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return nil, fmt.Errorf("row id %q: %w", r.ID, err)
	}
	var scid any
	if r.SourceCorrectionID != nil {
		u, err := uuid.Parse(*r.SourceCorrectionID)
		if err != nil {
			return nil, fmt.Errorf("source_correction_id: %w", err)
		}
		scid = [16]byte(u)
	}
	num := func(s *string) (any, error) {
		if s == nil {
			return nil, nil
		}
		d, err := decimal.NewFromString(*s)
		if err != nil {
			return nil, err
		}
		return pgtype.Numeric{Int: d.Coefficient(), Exp: d.Exponent(), Valid: true}, nil
	}
	conf, err := num(r.OCRConfidence)
	if err != nil {
		return nil, err
	}
	amount, err := num(r.CorrectedAmount)
	if err != nil {
		return nil, err
	}
	quality, err := num(r.DataQualityScore)
	if err != nil {
		return nil, err
	}
	var date any
	if r.CorrectedDate != nil {
		t, err := time.Parse(time.DateOnly, string(*r.CorrectedDate))
		if err != nil {
			return nil, err
		}
		date = t
	}
	fields := r.FieldsCorrected.Items
	if fields == nil {
		fields = []string{}
	}
	return []any{[16]byte(id), r.SourceApp, r.SourceEnvironment, scid, r.CreatedAt, r.UserIDHash,
		r.OCRProvider, r.OCRText, conf, r.OriginalInference, r.CorrectedMerchant, amount,
		date, r.CorrectedCategory, r.CorrectedCardLastFour, fields, quality,
		r.IsOutlier, r.OutlierReason, r.UsedInTraining, r.TrainingDatasetID, r.TrainingRunVersion, r.ModelVersion,
		r.PromptVersion, r.IngestedAt, r.LastModifiedAt, r.ReceiptImagePathHash, r.ExpenseIDToken, r.PatternVersion,
		r.CorrectedCurrency, r.TextFingerprint, r.ContentFingerprint}, nil
}

// insertSQL is an INSERT of n rows that skips rows clashing with a stored
// (source_app, source_correction_id).
func (s *store) insertSQL(n int) string {
	if n == 1 && s.insertOne != "" {
		return s.insertOne
	}
	var b strings.Builder
	b.Grow(64 + n*len(insertColumns)*5)
	b.WriteString("INSERT INTO corrections_master (")
	b.WriteString(insertColumnList)
	b.WriteString(") VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		b.WriteString(s.placeholders(i*len(insertColumns)+1, len(insertColumns)))
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT (source_app, source_correction_id) DO NOTHING")
	return b.String()
}

// insertCorrections inserts rows that do not clash with a stored
// (source_app, source_correction_id) and returns how many it inserted.
// Clashing rows are skipped (ON CONFLICT DO NOTHING), never an error: the
// caller then reads the stored row to tell a retry from a conflict. The
// rows go in one transaction. This is the hot path of ingest, so it
// bypasses GORM's reflection.
func (s *store) insertCorrections(ctx context.Context, rows []correctionRow) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if s.dialect == db.Postgres && len(rows) >= copyThreshold {
		n, err := s.copyCorrections(ctx, rows)
		return n, dbError(err, "storing corrections")
	}
	exec := func(q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}, chunk []correctionRow) (int64, error) {
		args := make([]any, 0, len(chunk)*len(insertColumns))
		for i := range chunk {
			args = append(args, rowArgs(&chunk[i], s.dialect)...)
		}
		res, err := q.ExecContext(ctx, s.insertSQL(len(chunk)), args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	if len(rows) <= insertChunk {
		n, err := exec(s.sql, rows)
		return n, dbError(err, "storing corrections")
	}
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, dbError(err, "storing corrections")
	}
	defer tx.Rollback()
	var inserted int64
	for i := 0; i < len(rows); i += insertChunk {
		n, err := exec(tx, rows[i:min(i+insertChunk, len(rows))])
		if err != nil {
			return 0, dbError(err, "storing corrections")
		}
		inserted += n
	}
	return inserted, dbError(tx.Commit(), "storing corrections")
}

// insertCheckedSQL is the INSERT of n rows that also applies the
// duplicate-receipt rule in the same statement (one round trip instead of
// a lookup and an insert): when a stored row has the same text_fingerprint
// the row is stored as an outlier whose reason names that row. It returns
// the id, final is_outlier and outlier_reason of each inserted row; a row
// whose source id is taken is skipped and returns nothing.
func (s *store) insertCheckedSQL(n int) string {
	ph := func(i int) string {
		if s.dialect == db.Postgres {
			return "$" + strconv.Itoa(i)
		}
		return "?" + strconv.Itoa(i)
	}
	idx := func(col string) int {
		for i, c := range insertColumns {
			if c == col {
				return i
			}
		}
		panic("no column " + col)
	}
	fpCol, outlierCol, reasonCol := idx("text_fingerprint"), idx("is_outlier"), idx("outlier_reason")
	var b strings.Builder
	b.Grow(128 + n*len(insertColumns)*12)
	b.WriteString("INSERT INTO corrections_master (")
	b.WriteString(insertColumnList)
	b.WriteString(") VALUES ")
	for r := 0; r < n; r++ {
		base := r * len(insertColumns)
		dup := "(SELECT MIN(CAST(id AS TEXT)) FROM corrections_master WHERE text_fingerprint = " + ph(base+fpCol+1) + ")"
		reason := "CAST(" + ph(base+reasonCol+1) + " AS TEXT)"
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for i := range insertColumns {
			if i > 0 {
				b.WriteString(", ")
			}
			switch i {
			case outlierCol:
				b.WriteString("(" + ph(base+i+1) + " OR " + dup + " IS NOT NULL)")
			case reasonCol:
				b.WriteString("CASE WHEN " + dup + " IS NULL THEN " + reason + " ELSE COALESCE(" + reason +
					" || '; ', '') || '" + reasonDuplicate + ": same text as correction ' || " + dup + " END")
			default:
				b.WriteString(ph(base + i + 1))
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT (source_app, source_correction_id) DO NOTHING RETURNING CAST(id AS TEXT), is_outlier, outlier_reason")
	return b.String()
}

// unnestCasts are the casts from the text of unnestArgs to the columns'
// types on PostgreSQL; columns not named here are text, timestamptz or
// boolean already.
var unnestCasts = map[string]string{
	"id": "uuid", "source_correction_id": "uuid", "ocr_confidence": "numeric", "original_inference": "jsonb",
	"corrected_amount": "numeric", "corrected_date": "date", "fields_corrected": "text[]", "data_quality_score": "numeric",
}

// insertUnnestSQL is insertCheckedSQL for PostgreSQL with one array
// parameter per column: the same text whatever the number of rows. The
// duplicate-receipt lookup runs once per row (LATERAL).
func insertUnnestSQL() string {
	var params, cols, vals []string
	for i, c := range insertColumns {
		typ := "text[]"
		switch c {
		case "created_at", "ingested_at", "last_modified_at":
			typ = "timestamptz[]"
		case "is_outlier", "used_in_training":
			typ = "boolean[]"
		}
		params = append(params, "$"+strconv.Itoa(i+1)+"::"+typ)
		cols = append(cols, "c_"+c)
		v := "v.c_" + c
		if cast, ok := unnestCasts[c]; ok {
			v += "::" + cast
		}
		switch c {
		case "is_outlier":
			v = "(v.c_is_outlier OR d.dup IS NOT NULL)"
		case "outlier_reason":
			v = "CASE WHEN d.dup IS NULL THEN v.c_outlier_reason ELSE COALESCE(v.c_outlier_reason || '; ', '') || '" +
				reasonDuplicate + ": same text as correction ' || d.dup END"
		}
		vals = append(vals, v)
	}
	return "INSERT INTO corrections_master (" + insertColumnList + ") SELECT " + strings.Join(vals, ", ") +
		" FROM unnest(" + strings.Join(params, ", ") + ") AS v(" + strings.Join(cols, ", ") + ")" +
		" LEFT JOIN LATERAL (SELECT MIN(CAST(m.id AS TEXT)) AS dup FROM corrections_master m" +
		" WHERE m.text_fingerprint = v.c_text_fingerprint) d ON true" +
		" ON CONFLICT (source_app, source_correction_id) DO NOTHING RETURNING CAST(id AS TEXT), is_outlier, outlier_reason"
}

// unnestArgs are the column arrays of insertUnnestSQL: rowArgs turned
// column-wise into []time.Time, []bool or []*string (nil is NULL).
func unnestArgs(rows []*correctionRow) []any {
	cols := make([]any, len(insertColumns))
	for j := range insertColumns {
		switch insertColumns[j] {
		case "created_at", "ingested_at", "last_modified_at":
			cols[j] = make([]time.Time, len(rows))
		case "is_outlier", "used_in_training":
			cols[j] = make([]bool, len(rows))
		default:
			cols[j] = make([]*string, len(rows))
		}
	}
	for i, r := range rows {
		for j, v := range rowArgs(r, db.Postgres) {
			switch col := cols[j].(type) {
			case []time.Time:
				col[i] = v.(time.Time)
			case []bool:
				col[i] = v.(bool)
			case []*string:
				switch x := v.(type) {
				case string:
					col[i] = &x
				case *string:
					col[i] = x
				}
			}
		}
	}
	return cols
}

// checkedSQL returns insertCheckedSQL(n), built once per n: group commits
// repeat the same few sizes, and the text of a large one is long.
func (s *store) checkedSQL(n int) string {
	s.checkedMu.Lock()
	defer s.checkedMu.Unlock()
	q, ok := s.checked[n]
	if !ok {
		q = s.insertCheckedSQL(n)
		s.checked[n] = q
	}
	return q
}

// execQuerier is what *sql.DB and *sql.Tx share.
type execQuerier interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// insertChecked inserts one row with the duplicate-receipt rule applied in
// the statement (see insertCheckedSQL) and updates r's outlier columns to
// what was stored. inserted is false when the source id was taken.
func (s *store) insertChecked(ctx context.Context, r *correctionRow) (inserted bool, err error) {
	ins, err := s.insertCheckedRows(ctx, []*correctionRow{r})
	if err != nil {
		return false, err
	}
	return ins[0], nil
}

// insertCheckedRows stores rows in one statement and one transaction (a
// group commit), each with the duplicate-receipt rule applied against the
// stored rows and the rows before it in rows, and updates the outlier
// columns of the inserted rows to what was stored. inserted[i] is false
// when rows[i]'s (source_app, source_correction_id) was taken. The source
// keys of rows must be distinct.
func (s *store) insertCheckedRows(ctx context.Context, rows []*correctionRow) (inserted []bool, err error) {
	if len(rows) == 0 {
		return nil, nil
	}
	// Rows of one statement do not see each other (PostgreSQL's snapshot),
	// so two rows with the same text need a second statement; only then is
	// a transaction needed around the two.
	if !sharedFingerprint(rows) {
		inserted, err = s.insertReturning(ctx, s.sql, rows)
		return inserted, dbError(err, "storing the correction")
	}
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, dbError(err, "storing the correction")
	}
	defer tx.Rollback()
	if inserted, err = s.insertReturning(ctx, tx, rows); err != nil {
		return nil, dbError(err, "storing the correction")
	}
	first := map[string]string{} // text fingerprint → id of the first inserted row
	for i, r := range rows {
		if !inserted[i] || r.TextFingerprint == nil {
			continue
		}
		id, seen := first[*r.TextFingerprint]
		if !seen {
			first[*r.TextFingerprint] = r.ID
			continue
		}
		if r.OutlierReason != nil && strings.Contains(*r.OutlierReason, reasonDuplicate+": same text as correction ") {
			continue // flagged by the statement already (SQLite sees its earlier rows)
		}
		reason := reasonDuplicate + ": same text as correction " + id
		if r.OutlierReason != nil && *r.OutlierReason != "" {
			reason = *r.OutlierReason + "; " + reason
		}
		q := "UPDATE corrections_master SET is_outlier = " + s.placeholders(1, 1) + ", outlier_reason = " +
			s.placeholders(2, 1) + " WHERE id = " + s.placeholders(3, 1)
		if _, err := tx.ExecContext(ctx, q, true, reason, r.ID); err != nil {
			return nil, dbError(err, "storing the correction")
		}
		r.IsOutlier, r.OutlierReason = true, &reason
	}
	return inserted, dbError(tx.Commit(), "storing the correction")
}

// sharedFingerprint reports whether two rows have the same text fingerprint.
func sharedFingerprint(rows []*correctionRow) bool {
	if len(rows) < 2 {
		return false
	}
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		if r.TextFingerprint == nil {
			continue
		}
		if seen[*r.TextFingerprint] {
			return true
		}
		seen[*r.TextFingerprint] = true
	}
	return false
}

// insertReturning runs the checked INSERT of rows on q: on PostgreSQL
// insertUnnestSQL, one statement text for any number of rows (prepared
// once per connection, planned once); on SQLite insertCheckedSQL.
func (s *store) insertReturning(ctx context.Context, q execQuerier, rows []*correctionRow) ([]bool, error) {
	byID := make(map[string]int, len(rows))
	for i, r := range rows {
		byID[strings.ToLower(r.ID)] = i
	}
	var query string
	var args []any
	if s.dialect == db.Postgres {
		query, args = s.insertUnnest, unnestArgs(rows)
	} else {
		query = s.checkedSQL(len(rows))
		args = make([]any, 0, len(rows)*len(insertColumns))
		for _, r := range rows {
			args = append(args, rowArgs(r, s.dialect)...)
		}
	}
	res, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	inserted := make([]bool, len(rows))
	for res.Next() {
		var id string
		var outlier bool
		var reason sql.NullString
		if err := res.Scan(&id, &outlier, &reason); err != nil {
			return nil, err
		}
		i, ok := byID[strings.ToLower(id)]
		if !ok {
			return nil, fmt.Errorf("the insert returned an unknown id %q", id)
		}
		inserted[i] = true
		rows[i].IsOutlier, rows[i].OutlierReason = outlier, nullString(reason)
	}
	return inserted, res.Err()
}

// copyCorrections is insertCorrections for PostgreSQL batches. The rows
// are COPied straight into corrections_master, as fast as a bulk load
// gets: usually none of their (source_app, source_correction_id) is stored
// yet, and looking that up first would cost every batch a query of its
// own. When one is (a retried batch, a resumed import, a concurrent
// request), the COPY fails on the unique key and changes nothing, and the
// batch goes the safe way instead: COPY into a temporary table of this
// connection (emptied at commit) and one INSERT … SELECT … ON CONFLICT DO
// NOTHING. The caller tells retries from conflicts afterwards.
func (s *store) copyCorrections(ctx context.Context, rows []correctionRow) (int64, error) {
	all := make([][]any, len(rows))
	for i := range rows {
		v, err := copyValues(&rows[i])
		if err != nil {
			return 0, err
		}
		all[i] = v
	}
	conn, err := s.sql.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var inserted int64
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("not a pgx connection: %T", dc)
		}
		pc := sc.Conn()
		n, err := pc.CopyFrom(ctx, pgx.Identifier{"corrections_master"}, insertColumns, pgx.CopyFromRows(all))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation: a key is stored
			n, err = copyUpsert(ctx, pc, all)
		}
		inserted = n
		return err
	})
	return inserted, err
}

// copyUpsert stores rows through a temporary table, skipping stored keys.
func copyUpsert(ctx context.Context, pc *pgx.Conn, rows [][]any) (int64, error) {
	if _, err := pc.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS datapool_ingest
		(LIKE corrections_master INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
		return 0, err
	}
	tx, err := pc.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"datapool_ingest"}, insertColumns, pgx.CopyFromRows(rows)); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO corrections_master (`+insertColumnList+`)
		SELECT `+insertColumnList+` FROM datapool_ingest
		ON CONFLICT (source_app, source_correction_id) DO NOTHING`)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), tx.Commit(ctx)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// storedRef is what idempotency needs of a stored correction.
type storedRef struct {
	ID                 string
	SourceApp          string
	SourceCorrectionID string
	ContentFingerprint *string
}

type sourceKey struct{ app, id string }

// placeholders returns n bind variables starting at the from-th, in the
// dialect's notation, comma-separated.
func (s *store) placeholders(from, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if s.dialect == db.Postgres {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(from + i))
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// correctionsBySource returns the stored corrections with these
// (source_app, source_correction_id) pairs.
func (s *store) correctionsBySource(ctx context.Context, keys []sourceKey) (map[sourceKey]storedRef, error) {
	out := make(map[sourceKey]storedRef, len(keys))
	byApp := map[string][]string{}
	for _, k := range keys {
		byApp[k.app] = append(byApp[k.app], k.id)
	}
	idText := "source_correction_id"
	if s.dialect == db.Postgres {
		idText = "source_correction_id::text"
	}
	for app, ids := range byApp {
		for i := 0; i < len(ids); i += insertChunk {
			chunk := ids[i:min(i+insertChunk, len(ids))]
			args := make([]any, 0, len(chunk)+1)
			args = append(args, app)
			for _, id := range chunk {
				args = append(args, id)
			}
			q := `SELECT CAST(id AS TEXT), ` + idText + `, content_fingerprint
				FROM corrections_master WHERE source_app = ` + s.placeholders(1, 1) + `
				AND source_correction_id IN (` + s.placeholders(2, len(chunk)) + `)`
			if s.dialect == db.Postgres { // one array parameter: cheaper to bind and plan
				q = `SELECT CAST(id AS TEXT), ` + idText + `, content_fingerprint
					FROM corrections_master WHERE source_app = $1 AND source_correction_id = ANY($2::uuid[])`
				args = []any{app, chunk}
			}
			rows, err := s.sql.QueryContext(ctx, q, args...)
			if err != nil {
				return nil, dbError(err, "reading stored corrections")
			}
			for rows.Next() {
				var r storedRef
				var fp sql.NullString
				if err := rows.Scan(&r.ID, &r.SourceCorrectionID, &fp); err != nil {
					rows.Close()
					return nil, dbError(err, "reading stored corrections")
				}
				r.SourceApp, r.ContentFingerprint = app, nullString(fp)
				r.SourceCorrectionID = strings.ToLower(r.SourceCorrectionID)
				out[sourceKey{app, r.SourceCorrectionID}] = r
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, dbError(err, "reading stored corrections")
			}
		}
	}
	return out, nil
}

// correctionsByTextFingerprint returns, for each fingerprint already stored,
// the id of one correction that has it.
func (s *store) correctionsByTextFingerprint(ctx context.Context, fps []string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(fps); i += insertChunk {
		chunk := fps[i:min(i+insertChunk, len(fps))]
		args := make([]any, len(chunk))
		for j, fp := range chunk {
			args[j] = fp
		}
		q := `SELECT text_fingerprint, MIN(CAST(id AS TEXT)) FROM corrections_master
			WHERE text_fingerprint IN (` + s.placeholders(1, len(chunk)) + `) GROUP BY text_fingerprint`
		if s.dialect == db.Postgres {
			q = `SELECT text_fingerprint, MIN(CAST(id AS TEXT)) FROM corrections_master
				WHERE text_fingerprint = ANY($1::text[]) GROUP BY text_fingerprint`
			args = []any{chunk}
		}
		rows, err := s.sql.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, dbError(err, "looking up receipt fingerprints")
		}
		for rows.Next() {
			var fp, id string
			if err := rows.Scan(&fp, &id); err != nil {
				rows.Close()
				return nil, dbError(err, "looking up receipt fingerprints")
			}
			out[fp] = id
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, dbError(err, "looking up receipt fingerprints")
		}
	}
	return out, nil
}

// merchantSample is how many recent amounts per merchant the outlier rule
// looks at.
const merchantSample = 64

// recentAmounts returns up to merchantSample recent non-outlier amounts of
// each merchant, newest first.
func (s *store) recentAmounts(ctx context.Context, merchants []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(merchants) == 0 {
		return out, nil
	}
	for i := 0; i < len(merchants); i += insertChunk {
		var rows []struct {
			Merchant string `gorm:"column:corrected_merchant"`
			Amount   string `gorm:"column:amount"`
		}
		amount := "corrected_amount"
		if s.dialect == db.Postgres {
			amount = "corrected_amount::text"
		}
		q := `SELECT corrected_merchant, amount FROM (
			SELECT corrected_merchant, ` + amount + ` AS amount,
			       ROW_NUMBER() OVER (PARTITION BY corrected_merchant ORDER BY created_at DESC) AS rn
			FROM corrections_master
			WHERE corrected_merchant IN ? AND corrected_amount IS NOT NULL AND is_outlier = ?
		) recent WHERE rn <= ?`
		err := s.db.WithContext(ctx).Raw(q, merchants[i:min(i+insertChunk, len(merchants))], false, merchantSample).Scan(&rows).Error
		if err != nil {
			return nil, dbError(err, "reading merchant amounts")
		}
		for _, r := range rows {
			out[r.Merchant] = append(out[r.Merchant], r.Amount)
		}
	}
	return out, nil
}

// insertDataset records a finished export.
func (s *store) insertDataset(ctx context.Context, row datasetRow) error {
	row.IncludedApps.Dialect = s.dialect
	row.IncludedEnvironments.Dialect = s.dialect
	return dbError(s.db.WithContext(ctx).Create(&row).Error, "recording the dataset")
}

// dataset reads a recorded export.
func (s *store) dataset(ctx context.Context, id string) (datasetRow, error) {
	var row datasetRow
	err := s.db.WithContext(ctx).Where("dataset_id = ?", id).Take(&row).Error
	return row, dbError(err, "dataset "+id)
}

// correctionByID reads one stored correction.
func (s *store) correctionByID(ctx context.Context, id string) (correctionRow, error) {
	var row correctionRow
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error
	return row, dbError(err, "correction "+id)
}

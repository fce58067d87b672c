package datapool

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
	"github.com/shopspring/decimal"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// Exports stream: rows are read in keyset pages of exportPage rows ordered
// by (created_at, id) and written straight to the output through a 64 KiB
// buffer, so memory stays flat however many rows match. Parquet is written
// one row group per parquetRowGroup rows.
const (
	exportPage      = 2000
	parquetRowGroup = 20000
	exportBuffer    = 64 << 10
)

// exportParams are the query parameters of GET /corrections/export.
var exportParams = []string{"since", "until", "min_quality", "apps", "environments", "fields", "include_outliers", "format"}

var relativeRE = regexp.MustCompile(`^([0-9]{1,5})([hdw])$`)

// ParseSince reads a time bound: a duration back from now ("24h", "7d",
// "2w"), a date ("2024-03-12", midnight UTC) or an RFC 3339 time. Empty is
// the zero time (unbounded).
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if m := relativeRE.FindStringSubmatch(strings.ToLower(s)); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := time.Hour
		switch m[2] {
		case "d":
			unit = 24 * time.Hour
		case "w":
			unit = 7 * 24 * time.Hour
		}
		return now.UTC().Add(-time.Duration(n) * unit).Truncate(time.Microsecond), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Truncate(time.Microsecond), nil
	}
	return time.Time{}, fmt.Errorf("want a duration back from now (24h, 7d, 2w), a date (2024-03-12) or an RFC 3339 time")
}

// ParseExportQuery reads the query string of GET /corrections/export.
// Unknown parameters are an error naming them (a misspelt filter would
// otherwise export everything).
func ParseExportQuery(v url.Values, now time.Time) (ExportQuery, error) {
	var q ExportQuery
	for k := range v {
		if !slices.Contains(exportParams, k) {
			return q, apierr.Field(k, "unknown parameter (known: %s)", strings.Join(exportParams, ", "))
		}
	}
	var err error
	if q.Since, err = ParseSince(v.Get("since"), now); err != nil {
		return q, apierr.Field("since", "%v", err)
	}
	if q.Until, err = ParseSince(v.Get("until"), now); err != nil {
		return q, apierr.Field("until", "%v", err)
	}
	if s := strings.TrimSpace(v.Get("min_quality")); s != "" {
		if q.MinQuality, err = decimal.NewFromString(s); err != nil || len(s) > 10 {
			return q, apierr.Field("min_quality", "must be a number between 0 and 1")
		}
	}
	q.Apps = listParam(v["apps"])
	q.Environments = listParam(v["environments"])
	q.Fields = listParam(v["fields"])
	if s := v.Get("include_outliers"); s != "" {
		if q.IncludeOutliers, err = strconv.ParseBool(s); err != nil {
			return q, apierr.Field("include_outliers", "must be true or false")
		}
	}
	q.Format = Format(strings.ToLower(strings.TrimSpace(v.Get("format"))))
	return q, nil
}

// listParam splits comma-separated, possibly repeated values.
func listParam(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// Values is q as the query string of GET /corrections/export.
func (q ExportQuery) Values() url.Values {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if !q.MinQuality.IsZero() {
		v.Set("min_quality", q.MinQuality.String())
	}
	if len(q.Apps) > 0 {
		v.Set("apps", strings.Join(q.Apps, ","))
	}
	if len(q.Environments) > 0 {
		v.Set("environments", strings.Join(q.Environments, ","))
	}
	if len(q.Fields) > 0 {
		v.Set("fields", strings.Join(q.Fields, ","))
	}
	if q.IncludeOutliers {
		v.Set("include_outliers", "true")
	}
	if q.Format != "" {
		v.Set("format", string(q.Format))
	}
	return v
}

// validate checks and canonicalises q.
func (q ExportQuery) validate() (ExportQuery, error) {
	switch q.Format {
	case "":
		q.Format = JSONL
	case JSONL, CSV, Parquet:
	default:
		return q, apierr.Field("format", "must be jsonl, csv or parquet")
	}
	if q.MinQuality.IsNegative() || q.MinQuality.GreaterThan(decimal.NewFromInt(1)) {
		return q, apierr.Field("min_quality", "must be between 0 and 1")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, apierr.Field("until", "must be after since")
	}
	q.Since, q.Until = q.Since.UTC(), q.Until.UTC()
	canon := func(field string, in []string, n int) ([]string, error) {
		var out []string
		for _, x := range in {
			id, err := identifier(field, x, n)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		return out, nil
	}
	var err error
	if q.Apps, err = canon("apps", q.Apps, 50); err != nil {
		return q, err
	}
	if q.Environments, err = canon("environments", q.Environments, 20); err != nil {
		return q, err
	}
	if q.Fields, err = canon("fields", q.Fields, 20); err != nil {
		return q, err
	}
	for _, f := range q.Fields {
		if !slices.Contains(correctableFields, f) {
			return q, apierr.Field("fields", "%q is not a field (want %s)", f, strings.Join(correctableFields, ", "))
		}
	}
	return q, nil
}

// Export writes the corrections q selects to w and records the dataset in
// training_datasets. Errors: Invalid naming a bad filter; a database error
// mid-way leaves w with a partial file and records nothing.
func (s *Service) Export(ctx context.Context, q ExportQuery, w io.Writer) (Dataset, error) {
	e, err := s.newExport(q)
	if err != nil {
		return Dataset{}, err
	}
	return e.run(ctx, w)
}

// export is one export in progress: its id is known before the first byte,
// so the handler can send it as a header.
type export struct {
	s  *Service
	q  ExportQuery
	id string
}

func (s *Service) newExport(q ExportQuery) (*export, error) {
	q, err := q.validate()
	if err != nil {
		return nil, err
	}
	u, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("making a dataset id: %w", err)
	}
	return &export{s: s, q: q, id: "ds_" + u.String()}, nil
}

// countingWriter counts what goes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// recordWriter writes export records in one format.
type recordWriter interface {
	write(r *ExportRecord) error
	close() error
}

func (e *export) run(ctx context.Context, w io.Writer) (ds Dataset, err error) {
	s := e.s
	format := string(e.q.Format)
	defer func() {
		result := "ok"
		if err != nil {
			result = "failed"
		}
		s.metrics.exports.WithLabelValues(format, result).Inc()
	}()
	cw := &countingWriter{w: w}
	buf := bufio.NewWriterSize(cw, exportBuffer)
	var rw recordWriter
	switch e.q.Format {
	case CSV:
		rw = newCSVWriter(buf)
	case Parquet:
		rw = newParquetWriter(buf)
	default:
		rw = newJSONLWriter(buf)
	}
	var count int64
	var first, last time.Time
	err = s.store.exportRows(ctx, e.q, func(r *ExportRecord) error {
		if count == 0 {
			first = r.CreatedAt
		}
		last = r.CreatedAt
		count++
		if count%exportPage == 0 {
			s.metrics.exportRows.WithLabelValues(format).Add(exportPage)
		}
		return rw.write(r)
	})
	if err != nil {
		return Dataset{}, err
	}
	if err := rw.close(); err != nil {
		return Dataset{}, fmt.Errorf("writing the %s export: %w", format, err)
	}
	if err := buf.Flush(); err != nil {
		return Dataset{}, fmt.Errorf("writing the %s export: %w", format, err)
	}
	s.metrics.exportRows.WithLabelValues(format).Add(float64(count % exportPage))

	now := s.now().UTC()
	start, end := e.q.Since, e.q.Until
	if start.IsZero() {
		start = first
	}
	if end.IsZero() {
		end = last
	} else {
		end = end.Add(-time.Microsecond) // Until is exclusive
	}
	if start.IsZero() {
		start = now
	}
	if end.IsZero() || end.Before(start) {
		end = start
	}
	filters, err := json.Marshal(e.q)
	if err != nil {
		return Dataset{}, fmt.Errorf("recording the dataset: %w", err)
	}
	row := datasetRow{
		DatasetID:            e.id,
		CreatedAt:            now,
		CorrectionCount:      count,
		DateRangeStart:       dateText(start.Format(time.DateOnly)),
		DateRangeEnd:         dateText(end.Format(time.DateOnly)),
		IncludedApps:         textList{Items: e.q.Apps},
		IncludedEnvironments: textList{Items: e.q.Environments},
		ExportFormat:         format,
		FileSizeBytes:        cw.n,
		Filters:              string(filters),
	}
	if !e.q.MinQuality.IsZero() {
		row.MinQualityScore = ptr(e.q.MinQuality.StringFixed(2))
	}
	// Recorded even when the client has gone: the file was written.
	if err := s.store.insertDataset(context.WithoutCancel(ctx), row); err != nil {
		return Dataset{}, err
	}
	s.log.InfoContext(ctx, "export finished", "dataset_id", e.id, "format", format, "count", count, "bytes", cw.n)
	return Dataset{ID: e.id, Format: e.q.Format, Count: count, Bytes: cw.n}, nil
}

// exportRows calls fn for every row q selects, in (created_at, id) order,
// reading keyset pages so no query holds a connection for long.
func (s *store) exportRows(ctx context.Context, q ExportQuery, fn func(*ExportRecord) error) error {
	where, args := s.exportFilter(q)
	cols := exportColumnsSQLite
	if s.dialect == db.Postgres {
		cols = exportColumnsPostgres
	}
	var (
		afterAt time.Time
		afterID string
		rec     ExportRecord
	)
	for {
		sqlText := "SELECT " + cols + " FROM corrections_master WHERE " + where
		pageArgs := append([]any(nil), args...)
		if afterID != "" {
			sqlText += " AND (created_at, id) > (?, ?)"
			pageArgs = append(pageArgs, afterAt, afterID)
		}
		sqlText += " ORDER BY created_at, id LIMIT ?"
		pageArgs = append(pageArgs, s.pageSize)
		rows, err := s.db.WithContext(ctx).Raw(sqlText, pageArgs...).Rows()
		if err != nil {
			return dbError(err, "reading corrections")
		}
		n := 0
		for rows.Next() {
			if err := scanExport(rows, &rec); err != nil {
				rows.Close()
				return dbError(err, "reading corrections")
			}
			n++
			afterAt, afterID = rec.CreatedAt, rec.ID
			if err := fn(&rec); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return dbError(err, "reading corrections")
		}
		if n < s.pageSize {
			return nil
		}
	}
}

const exportColumnsSQLite = `id, source_app, source_environment, source_correction_id, created_at, ingested_at,
	user_id_hash, ocr_provider, ocr_text, ocr_confidence, original_inference,
	corrected_merchant, corrected_amount, corrected_currency, CAST(corrected_date AS TEXT),
	corrected_category, corrected_card_last_four, fields_corrected, data_quality_score,
	is_outlier, outlier_reason, model_version, prompt_version, pattern_version,
	receipt_image_path_hash, expense_id_token, text_fingerprint`

const exportColumnsPostgres = `id::text, source_app, source_environment, source_correction_id::text, created_at, ingested_at,
	user_id_hash, ocr_provider, ocr_text, ocr_confidence::text, original_inference::text,
	corrected_merchant, corrected_amount::text, corrected_currency, to_char(corrected_date, 'YYYY-MM-DD'),
	corrected_category, corrected_card_last_four, array_to_json(fields_corrected)::text, data_quality_score::text,
	is_outlier, outlier_reason, model_version, prompt_version, pattern_version,
	receipt_image_path_hash, expense_id_token, text_fingerprint`

// exportFilter is the WHERE clause of q (without the keyset condition).
func (s *store) exportFilter(q ExportQuery) (string, []any) {
	parts := []string{"1=1"}
	var args []any
	if !q.Since.IsZero() {
		parts = append(parts, "created_at >= ?")
		args = append(args, q.Since)
	}
	if !q.Until.IsZero() {
		parts = append(parts, "created_at < ?")
		args = append(args, q.Until)
	}
	if !q.MinQuality.IsZero() {
		if s.dialect == db.Postgres {
			parts = append(parts, "data_quality_score >= ?")
			args = append(args, q.MinQuality.String())
		} else {
			parts = append(parts, "CAST(data_quality_score AS REAL) >= ?")
			args = append(args, q.MinQuality.InexactFloat64())
		}
	}
	if len(q.Apps) > 0 {
		parts = append(parts, "source_app IN ?")
		args = append(args, q.Apps)
	}
	if len(q.Environments) > 0 {
		parts = append(parts, "source_environment IN ?")
		args = append(args, q.Environments)
	}
	if len(q.Fields) > 0 {
		if s.dialect == db.Postgres {
			parts = append(parts, "fields_corrected && ?::text[]")
			args = append(args, pgArray(q.Fields))
		} else {
			parts = append(parts, "EXISTS (SELECT 1 FROM json_each(corrections_master.fields_corrected) f WHERE f.value IN ?)")
			args = append(args, q.Fields)
		}
	}
	if !q.IncludeOutliers {
		parts = append(parts, "is_outlier = ?")
		args = append(args, false)
	}
	return strings.Join(parts, " AND "), args
}

// scanExport reads one row of an export query into r, reusing r.
func scanExport(rows *sql.Rows, r *ExportRecord) error {
	var (
		scid, conf, merchant, amount, currency, date, category, card sql.NullString
		quality, reason, model, prompt, pattern, img, exp, textFP    sql.NullString
		orig, fields                                                 string
	)
	err := rows.Scan(&r.ID, &r.SourceApp, &r.SourceEnvironment, &scid, &r.CreatedAt, &r.IngestedAt,
		&r.UserIDHash, &r.OCRProvider, &r.OCRText, &conf, &orig,
		&merchant, &amount, &currency, &date, &category, &card, &fields, &quality,
		&r.IsOutlier, &reason, &model, &prompt, &pattern, &img, &exp, &textFP)
	if err != nil {
		return err
	}
	r.CreatedAt, r.IngestedAt = r.CreatedAt.UTC(), r.IngestedAt.UTC()
	r.SourceCorrectionID = scid.String
	r.OriginalInference = json.RawMessage(orig)
	r.OCRConfidence = nullDecimal(conf)
	r.CorrectedAmount = nullDecimal(amount)
	r.DataQualityScore = nullDecimal(quality)
	r.CorrectedMerchant = nullString(merchant)
	r.CorrectedCurrency = nullString(currency)
	r.CorrectedDate = nullString(date)
	r.CorrectedCategory = nullString(category)
	r.CorrectedCardLast4 = nullString(card)
	r.OutlierReason = nullString(reason)
	r.ModelVersion = nullString(model)
	r.PromptVersion = nullString(prompt)
	r.PatternVersion = nullString(pattern)
	r.ReceiptImagePathHash = nullString(img)
	r.ExpenseIDToken = nullString(exp)
	r.TextFingerprint = nullString(textFP)
	if r.FieldsCorrected, err = parseTextList(fields); err != nil {
		return err
	}
	return nil
}

func nullString(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func nullDecimal(v sql.NullString) *decimal.Decimal {
	if !v.Valid {
		return nil
	}
	d, err := decimal.NewFromString(v.String)
	if err != nil {
		return nil
	}
	return &d
}

// JSON lines.

type jsonlWriter struct{ enc *json.Encoder }

func newJSONLWriter(w io.Writer) *jsonlWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonlWriter{enc: enc}
}

func (j *jsonlWriter) write(r *ExportRecord) error { return j.enc.Encode(r) }
func (j *jsonlWriter) close() error                { return nil }

// CSV: one header line, then one line per correction. original_inference
// is its JSON text; fields_corrected is "merchant;amount"; missing values
// are empty cells; decimals are written exactly ("12.50").

// CSVHeader is the header line of CSV exports.
var CSVHeader = []string{"id", "source_app", "source_environment", "source_correction_id", "created_at", "ingested_at",
	"user_id_hash", "ocr_provider", "ocr_text", "ocr_confidence", "original_inference",
	"corrected_merchant", "corrected_amount", "corrected_currency", "corrected_date", "corrected_category",
	"corrected_card_last_four", "fields_corrected", "data_quality_score", "is_outlier", "outlier_reason",
	"model_version", "prompt_version", "pattern_version", "receipt_image_path_hash", "expense_id_token", "text_fingerprint"}

type csvWriter struct {
	w      *csv.Writer
	header bool
	rec    []string
}

func newCSVWriter(w io.Writer) *csvWriter {
	return &csvWriter{w: csv.NewWriter(w), rec: make([]string, len(CSVHeader))}
}

func (c *csvWriter) write(r *ExportRecord) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			return err
		}
	}
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	d := func(p *decimal.Decimal, places int32) string {
		if p == nil {
			return ""
		}
		return p.StringFixed(places)
	}
	c.rec = append(c.rec[:0], r.ID, r.SourceApp, r.SourceEnvironment, r.SourceCorrectionID,
		r.CreatedAt.Format(time.RFC3339Nano), r.IngestedAt.Format(time.RFC3339Nano),
		r.UserIDHash, r.OCRProvider, r.OCRText, d(r.OCRConfidence, 3), compactJSON(r.OriginalInference),
		s(r.CorrectedMerchant), d(r.CorrectedAmount, 2), s(r.CorrectedCurrency), s(r.CorrectedDate), s(r.CorrectedCategory),
		s(r.CorrectedCardLast4), strings.Join(r.FieldsCorrected, ";"), d(r.DataQualityScore, 2),
		strconv.FormatBool(r.IsOutlier), s(r.OutlierReason),
		s(r.ModelVersion), s(r.PromptVersion), s(r.PatternVersion), s(r.ReceiptImagePathHash), s(r.ExpenseIDToken), s(r.TextFingerprint))
	return c.w.Write(c.rec)
}

func (c *csvWriter) close() error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// Parquet: one row per correction. Money and scores are DECIMAL logical
// types over integers (exact), dates are DATE, times are microsecond
// timestamps, original_inference is JSON.

// ParquetRow is the schema of Parquet exports.
type ParquetRow struct {
	ID                   string    `parquet:"id"`
	SourceApp            string    `parquet:"source_app,dict"`
	SourceEnvironment    string    `parquet:"source_environment,dict"`
	SourceCorrectionID   string    `parquet:"source_correction_id"`
	CreatedAt            time.Time `parquet:"created_at,timestamp(microsecond)"`
	IngestedAt           time.Time `parquet:"ingested_at,timestamp(microsecond)"`
	UserIDHash           string    `parquet:"user_id_hash"`
	OCRProvider          string    `parquet:"ocr_provider,dict"`
	OCRText              string    `parquet:"ocr_text,zstd"`
	OCRConfidence        *int32    `parquet:"ocr_confidence,optional,decimal(3:4)"`
	OriginalInference    string    `parquet:"original_inference,json,zstd"`
	CorrectedMerchant    *string   `parquet:"corrected_merchant,optional,dict"`
	CorrectedAmount      *int64    `parquet:"corrected_amount,optional,decimal(2:10)"`
	CorrectedCurrency    *string   `parquet:"corrected_currency,optional,dict"`
	CorrectedDate        *int32    `parquet:"corrected_date,optional,date"`
	CorrectedCategory    *string   `parquet:"corrected_category,optional,dict"`
	CorrectedCardLast4   *string   `parquet:"corrected_card_last_four,optional"`
	FieldsCorrected      []string  `parquet:"fields_corrected,list"`
	DataQualityScore     *int32    `parquet:"data_quality_score,optional,decimal(2:3)"`
	IsOutlier            bool      `parquet:"is_outlier"`
	OutlierReason        *string   `parquet:"outlier_reason,optional"`
	ModelVersion         *string   `parquet:"model_version,optional,dict"`
	PromptVersion        *string   `parquet:"prompt_version,optional,dict"`
	PatternVersion       *string   `parquet:"pattern_version,optional,dict"`
	ReceiptImagePathHash *string   `parquet:"receipt_image_path_hash,optional"`
	ExpenseIDToken       *string   `parquet:"expense_id_token,optional"`
	TextFingerprint      *string   `parquet:"text_fingerprint,optional"`
}

// parquetBatch is how many rows are handed to the parquet writer at once.
const parquetBatch = 512

type parquetWriter struct {
	w    *parquet.GenericWriter[ParquetRow]
	rows []ParquetRow
}

func newParquetWriter(w io.Writer) *parquetWriter {
	return &parquetWriter{
		w: parquet.NewGenericWriter[ParquetRow](w,
			parquet.MaxRowsPerRowGroup(parquetRowGroup),
			parquet.PageBufferSize(64<<10),
			parquet.CreatedBy("ocrpool", "", ""),
		),
		rows: make([]ParquetRow, 0, parquetBatch),
	}
}

func (p *parquetWriter) write(r *ExportRecord) error {
	row := ParquetRow{
		ID: r.ID, SourceApp: r.SourceApp, SourceEnvironment: r.SourceEnvironment, SourceCorrectionID: r.SourceCorrectionID,
		CreatedAt: r.CreatedAt, IngestedAt: r.IngestedAt, UserIDHash: r.UserIDHash, OCRProvider: r.OCRProvider,
		OCRText: r.OCRText, OriginalInference: compactJSON(r.OriginalInference),
		CorrectedMerchant: r.CorrectedMerchant, CorrectedCurrency: r.CorrectedCurrency,
		CorrectedCategory: r.CorrectedCategory, CorrectedCardLast4: r.CorrectedCardLast4,
		FieldsCorrected: r.FieldsCorrected, IsOutlier: r.IsOutlier, OutlierReason: r.OutlierReason,
		ModelVersion: r.ModelVersion, PromptVersion: r.PromptVersion, PatternVersion: r.PatternVersion,
		ReceiptImagePathHash: r.ReceiptImagePathHash, ExpenseIDToken: r.ExpenseIDToken, TextFingerprint: r.TextFingerprint,
	}
	if r.OCRConfidence != nil {
		row.OCRConfidence = ptr(int32(r.OCRConfidence.Shift(3).IntPart()))
	}
	if r.CorrectedAmount != nil {
		row.CorrectedAmount = ptr(r.CorrectedAmount.Shift(2).IntPart())
	}
	if r.DataQualityScore != nil {
		row.DataQualityScore = ptr(int32(r.DataQualityScore.Shift(2).IntPart()))
	}
	if r.CorrectedDate != nil {
		if t, err := time.Parse(time.DateOnly, *r.CorrectedDate); err == nil {
			row.CorrectedDate = ptr(int32(t.Unix() / 86400))
		}
	}
	if row.FieldsCorrected == nil {
		row.FieldsCorrected = []string{}
	} else {
		row.FieldsCorrected = append([]string(nil), r.FieldsCorrected...)
	}
	p.rows = append(p.rows, row)
	if len(p.rows) == cap(p.rows) {
		return p.flush()
	}
	return nil
}

func (p *parquetWriter) flush() error {
	if len(p.rows) == 0 {
		return nil
	}
	if _, err := p.w.Write(p.rows); err != nil {
		return err
	}
	clear(p.rows)
	p.rows = p.rows[:0]
	return nil
}

func (p *parquetWriter) close() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}

package datapool

import (
	"github.com/redis/go-redis/v9"

	"github.com/ocrpool/ocrpool/modules/datapool/webhook"

	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/ocrpool/ocrpool/config"
	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// Service is the data pool's logic: ingest (validate, mask, normalise,
// score, store, publish), export, import and stats. It knows nothing about
// HTTP; handlers.go and the CLI call it, and it implements Client.
type Service struct {
	cfg       config.DatapoolConfig
	log       *slog.Logger
	store     *store
	dialect   db.Dialect
	mask      masker
	taxonomy  *Taxonomy
	events    *publisher // nil: no events (no Redis)
	commits   *groupCommitter
	metrics   *metrics
	now       func() time.Time
	merchants *merchantCache

	// Pattern sets (patterns*.go): versions in the database, the active
	// set served from memory and Redis, webhooks to subscribed apps.
	patterns *patternStore
	serving  *patternServer
	webhooks *webhook.Dispatcher
	rdb      *redis.Client // nil without Redis (the CLI on embedded stores)
	// compiled is the active version's matcher, which the next refresh
	// validates against.
	compiled compiledVersion
}

// Limits of the input, in bytes unless said otherwise. Column limits
// (VARCHAR(n)) are in characters.
const (
	maxOCRText    = 100_000
	maxUserID     = 256
	maxImagePath  = 4096
	maxExpenseID  = 256
	maxFieldValue = 1000
)

// normalized are the corrected fields in canonical form.
type normalized struct {
	merchant string
	amount   *decimal.Decimal
	currency string
	date     string
	category string
	card     string
}

// prepared is one correction through the pure part of the pipeline, ready
// for the outlier rules that need the database.
type prepared struct {
	row       correctionRow
	key       sourceKey
	fp        string // content fingerprint
	textFP    string // "" when the text is too short to fingerprint
	corrected normalized
	reasons   []string
	piiHits   int
	quality   qualityInputs
}

// Ingest stores one correction. It returns the stored id, with Duplicate
// set when the same correction was already stored. Errors: Invalid naming
// the field, Conflict when (source_app, source_correction_id) is stored
// with different content, Unavailable or Timeout when the database is.
func (s *Service) Ingest(ctx context.Context, c Correction) (IngestResult, error) {
	res, err := s.ingest(ctx, []Correction{c}, nil)
	if err != nil {
		return IngestResult{}, err
	}
	r := res[0]
	if r.Error != nil {
		return IngestResult{}, r.Error
	}
	return IngestResult{ID: r.ID, Duplicate: r.Duplicate}, nil
}

// IngestBatch stores up to datapool.max_batch corrections and reports each
// one's outcome; valid items are stored even when others are rejected. The
// error is for the batch as a whole: Invalid when it is empty, TooLarge
// over the limit (nothing is stored then), or a database failure.
func (s *Service) IngestBatch(ctx context.Context, cs []Correction) ([]ItemResult, error) {
	if err := s.checkBatchSize(len(cs)); err != nil {
		return nil, err
	}
	return s.ingest(ctx, cs, nil)
}

func (s *Service) checkBatchSize(n int) error {
	switch {
	case n == 0:
		return &apierr.Error{Code: apierr.Invalid, Field: "corrections", Message: "the batch is empty"}
	case n > s.cfg.MaxBatch:
		return &apierr.Error{Code: apierr.TooLarge, Field: "corrections",
			Message: fmt.Sprintf("the batch has %d corrections, the limit is %d (datapool.max_batch)", n, s.cfg.MaxBatch)}
	}
	return nil
}

// ingest runs the pipeline over cs. pre holds errors found before (JSON
// decoding of batch items): a non-nil pre[i] rejects item i.
func (s *Service) ingest(ctx context.Context, cs []Correction, pre []error) ([]ItemResult, error) {
	now := s.now().UTC()
	results := make([]ItemResult, len(cs))
	preps := make([]*prepared, len(cs))
	forEach(len(cs), func(i int) {
		results[i].Index = i
		var err error
		if pre != nil && pre[i] != nil {
			err = pre[i]
		} else {
			preps[i], err = s.prepare(cs[i], now)
		}
		if err != nil {
			results[i].Error = apierr.Public(err)
			results[i].Status = apierr.Status(results[i].Error.Code)
			s.metrics.corrections.WithLabelValues("rejected").Inc()
		}
	})
	var valid []*prepared
	for _, p := range preps {
		if p != nil {
			valid = append(valid, p)
		}
	}
	if len(valid) == 0 {
		return results, nil
	}
	// One correction: the duplicate-receipt rule runs inside its INSERT.
	single := len(valid) == 1
	if err := s.assess(ctx, valid, now, !single); err != nil {
		return nil, err
	}

	// Insert the first occurrence of each source key; later ones in the
	// same batch resolve against it like retries.
	firstOf := map[sourceKey]*prepared{}
	var rows []correctionRow
	for _, p := range valid {
		if _, seen := firstOf[p.key]; seen {
			continue
		}
		firstOf[p.key] = p
		rows = append(rows, p.row)
	}
	var inserted int64
	var err error
	if single {
		// Concurrent single corrections share one INSERT and one commit;
		// the committer also runs afterStore for the row it inserts.
		var ok bool
		if ok, err = s.commits.insert(ctx, valid[0]); ok {
			inserted = 1
		}
	} else {
		inserted, err = s.store.insertCorrections(ctx, rows)
	}
	if err != nil {
		return nil, err
	}
	var refs map[sourceKey]storedRef
	if int(inserted) != len(valid) {
		keys := make([]sourceKey, 0, len(firstOf))
		for k := range firstOf {
			keys = append(keys, k)
		}
		if refs, err = s.store.correctionsBySource(ctx, keys); err != nil {
			return nil, err
		}
	}
	var stored []*prepared
	for i, p := range preps {
		if p == nil {
			continue
		}
		r := &results[i]
		if refs == nil { // everything was inserted
			r.ID, r.Status = p.row.ID, http.StatusCreated
			stored = append(stored, p)
			continue
		}
		ref, ok := refs[p.key]
		switch {
		case !ok:
			// Neither inserted nor there: the row vanished in between
			// (deleted by an operator). Report it rather than guess.
			r.Error = apierr.New(apierr.Unavailable, "the correction could not be stored; retry")
		case ref.ID == p.row.ID:
			r.ID, r.Status = p.row.ID, http.StatusCreated
			stored = append(stored, p)
		case ref.ContentFingerprint != nil && *ref.ContentFingerprint == p.fp:
			r.ID, r.Duplicate, r.Status = ref.ID, true, http.StatusOK
			s.metrics.corrections.WithLabelValues("duplicate").Inc()
		default:
			r.Error = &apierr.Error{Code: apierr.Conflict, Field: "source_correction_id",
				Message: fmt.Sprintf("source_correction_id %s of app %s is already stored (id %s) with different content", p.key.id, p.key.app, ref.ID)}
			s.metrics.corrections.WithLabelValues("conflict").Inc()
		}
		if r.Error != nil {
			r.Status = apierr.Status(r.Error.Code)
		}
	}
	if !single {
		s.afterStore(ctx, stored)
	}
	return results, nil
}

// afterStore updates the merchant cache, metrics and publishes events.
func (s *Service) afterStore(ctx context.Context, stored []*prepared) {
	if len(stored) == 0 {
		return
	}
	events := make([]Event, 0, len(stored))
	for _, p := range stored {
		s.metrics.corrections.WithLabelValues("stored").Inc()
		if p.row.IsOutlier {
			for _, r := range p.reasons {
				code, _, _ := strings.Cut(r, ":")
				s.metrics.outliers.WithLabelValues(code).Inc()
			}
		} else if p.corrected.amount != nil && p.corrected.merchant != "" {
			s.merchants.add(p.corrected.merchant, p.corrected.amount.InexactFloat64())
		}
		events = append(events, eventOf(p))
	}
	s.events.publish(ctx, events)
	s.log.DebugContext(ctx, "corrections stored", "count", len(stored))
}

// prepare validates, masks and normalises one correction and computes
// everything that needs no database: the row, its fingerprints and the
// quality inputs.
func (s *Service) prepare(c Correction, now time.Time) (*prepared, error) {
	p := &prepared{}
	app, err := identifier("source_app", c.SourceApp, 50)
	if err != nil {
		return nil, err
	}
	env, err := identifier("source_environment", c.SourceEnvironment, 20)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.SourceCorrectionID) == "" {
		return nil, apierr.Field("source_correction_id", "is required (the app's id of the correction, a UUID)")
	}
	scid, err := uuid.Parse(strings.TrimSpace(c.SourceCorrectionID))
	if err != nil || len(strings.TrimSpace(c.SourceCorrectionID)) > 45 {
		return nil, apierr.Field("source_correction_id", "must be a UUID")
	}
	if err := plainText("user_id", c.UserID, maxUserID, true); err != nil {
		return nil, err
	}
	provider, err := identifier("ocr_provider", c.OCRProvider, 20)
	if err != nil {
		return nil, err
	}
	if !utf8.ValidString(c.OCRText) {
		return nil, apierr.Field("ocr_text", "is not valid UTF-8")
	}
	if len(c.OCRText) > maxOCRText {
		return nil, apierr.Field("ocr_text", "is %d bytes, the limit is %d", len(c.OCRText), maxOCRText)
	}
	text := cleanText(c.OCRText)
	if strings.TrimSpace(text) == "" {
		return nil, apierr.Field("ocr_text", "is required")
	}
	var confidence *string
	if c.OCRConfidence != nil {
		f := *c.OCRConfidence
		if math.IsNaN(f) || f < 0 || f > 1 {
			return nil, apierr.Field("ocr_confidence", "must be between 0 and 1")
		}
		v := decimal.NewFromFloat(f).Round(3).StringFixed(3)
		confidence = &v
	}
	versions := map[string]string{"model_version": c.ModelVersion, "prompt_version": c.PromptVersion, "pattern_version": c.PatternVersion}
	for _, name := range []string{"model_version", "prompt_version", "pattern_version"} {
		if err := plainText(name, versions[name], 0, false); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(versions[name]) > 20 {
			return nil, apierr.Field(name, "is longer than 20 characters")
		}
	}
	if err := plainText("receipt_image_path", c.ReceiptImagePath, maxImagePath, false); err != nil {
		return nil, err
	}
	if err := plainText("expense_id", c.ExpenseID, maxExpenseID, false); err != nil {
		return nil, err
	}
	createdAt, createdGiven, err := parseCreatedAt(c.CreatedAt, now)
	if err != nil {
		return nil, err
	}

	if c.CorrectedFields.empty() {
		return nil, apierr.Field("corrected_fields", "must name at least one field")
	}
	corrected, categoryKnown, err := s.normalizeCorrected(c.CorrectedFields)
	if err != nil {
		return nil, err
	}
	original, originalJSON, err := s.normalizeOriginal(c.OriginalInference)
	if err != nil {
		return nil, err
	}
	fields := fieldsCorrected(original, corrected)

	masked, hits := MaskText(text)
	p.piiHits = hits
	p.textFP = textFingerprint(masked)

	p.key = sourceKey{app: app, id: scid.String()}
	p.corrected = corrected
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("making an id: %w", err)
	}
	row := correctionRow{
		ID:                 id.String(),
		SourceApp:          app,
		SourceEnvironment:  env,
		SourceCorrectionID: ptr(scid.String()),
		CreatedAt:          createdAt,
		UserIDHash:         s.mask.userHash(c.UserID),
		OCRProvider:        provider,
		OCRText:            masked,
		OCRConfidence:      confidence,
		OriginalInference:  originalJSON,
		FieldsCorrected:    textList{Items: fields},
		IngestedAt:         now,
		LastModifiedAt:     now,
		ModelVersion:       optional(strings.TrimSpace(c.ModelVersion)),
		PromptVersion:      optional(strings.TrimSpace(c.PromptVersion)),
		PatternVersion:     optional(strings.TrimSpace(c.PatternVersion)),
		TextFingerprint:    optional(p.textFP),
	}
	if c.ReceiptImagePath != "" {
		row.ReceiptImagePathHash = ptr(s.mask.pathHash(c.ReceiptImagePath))
	}
	if c.ExpenseID != "" {
		row.ExpenseIDToken = ptr(s.mask.expenseToken(c.ExpenseID))
	}
	row.CorrectedMerchant = optional(corrected.merchant)
	if corrected.amount != nil {
		row.CorrectedAmount = ptr(corrected.amount.StringFixed(2))
	}
	row.CorrectedCurrency = optional(corrected.currency)
	if corrected.date != "" {
		d := dateText(corrected.date)
		row.CorrectedDate = &d
	}
	row.CorrectedCategory = optional(corrected.category)
	row.CorrectedCardLastFour = optional(corrected.card)

	p.quality = qualityInputs{
		Confidence:  c.OCRConfidence,
		Corrected:   len(fields),
		Consistency: consistency(strings.ToUpper(masked), corrected, categoryKnown),
		TextChars:   textChars(masked),
		PIIHits:     hits,
	}
	row.DataQualityScore = ptr(qualityScore(p.quality).StringFixed(2))
	if len(fields) == 0 {
		p.reasons = append(p.reasons, reasonIdentical+": the corrected fields equal the original inference")
	}
	p.reasons = append(p.reasons, dateOutliers(corrected.date, createdAt, now)...)

	// The content fingerprint covers what the client sent, normalised and
	// masked; created_at only when the client gave it (a retry without it
	// gets a new default time but is the same correction). Each part is
	// length-prefixed, so no two different inputs hash alike.
	created := ""
	if createdGiven {
		created = createdAt.Format(time.RFC3339Nano)
	}
	h := sha256.New()
	var lenBuf [binary.MaxVarintLen64]byte
	for _, part := range []*string{&app, &env, ptr(scid.String()), &row.UserIDHash, &provider, &masked, confidence,
		&originalJSON, row.CorrectedMerchant, row.CorrectedAmount, row.CorrectedCurrency, optional(corrected.date),
		row.CorrectedCategory, row.CorrectedCardLastFour, row.ReceiptImagePathHash, row.ExpenseIDToken,
		row.ModelVersion, row.PromptVersion, row.PatternVersion, &created} {
		if part == nil {
			h.Write([]byte{0xff}) // absent, unlike ""
			continue
		}
		h.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(*part)))])
		h.Write([]byte(*part))
	}
	p.fp = hex.EncodeToString(h.Sum(nil))
	row.ContentFingerprint = ptr(p.fp)
	p.row = row
	return p, nil
}

// normalizeCorrected validates and normalises the corrected fields; every
// problem is an error naming the field.
func (s *Service) normalizeCorrected(f Fields) (normalized, bool, error) {
	var n normalized
	known := false
	for _, fv := range []struct {
		name string
		v    Value
	}{{"merchant", f.Merchant}, {"amount", f.Amount}, {"currency", f.Currency},
		{"date", f.Date}, {"category", f.Category}, {"card_last_four", f.CardLastFour}} {
		if err := plainText("corrected_fields."+fv.name, string(fv.v), maxFieldValue, false); err != nil {
			return n, false, err
		}
	}
	if v := strings.TrimSpace(string(f.Merchant)); v != "" {
		masked, _ := MaskText(v)
		n.merchant = NormalizeMerchant(masked)
		if n.merchant == "" {
			return n, false, apierr.Field("corrected_fields.merchant", "has no letters or digits")
		}
		if utf8.RuneCountInString(n.merchant) > maxMerchantLen {
			return n, false, apierr.Field("corrected_fields.merchant", "is longer than %d characters", maxMerchantLen)
		}
	}
	if v := strings.TrimSpace(string(f.Currency)); v != "" {
		cur, err := NormalizeCurrency(v)
		if err != nil {
			return n, false, apierr.Field("corrected_fields.currency", "%v", err)
		}
		n.currency = cur
	}
	if v := strings.TrimSpace(string(f.Amount)); v != "" {
		m, err := NormalizeAmount(v)
		if err != nil {
			return n, false, apierr.Field("corrected_fields.amount", "%v", err)
		}
		switch {
		case m.Currency == "":
		case n.currency == "":
			n.currency = m.Currency
		case n.currency != m.Currency && !amountCurrencyAmbiguous(v):
			return n, false, apierr.Field("corrected_fields.currency", "is %s but the amount is in %s", n.currency, m.Currency)
		}
		n.amount = &m.Amount
	}
	if v := strings.TrimSpace(string(f.Date)); v != "" {
		d, err := NormalizeDate(v)
		if err != nil {
			return n, false, apierr.Field("corrected_fields.date", "%v", err)
		}
		n.date = d
	}
	if v := strings.TrimSpace(string(f.Category)); v != "" {
		masked, _ := MaskText(v)
		n.category, known = s.taxonomy.Normalize(masked)
		if n.category == "" {
			return n, false, apierr.Field("corrected_fields.category", "has no letters or digits")
		}
	}
	if v := strings.TrimSpace(string(f.CardLastFour)); v != "" {
		card, err := NormalizeCardLastFour(v)
		if err != nil {
			return n, false, apierr.Field("corrected_fields.card_last_four", "%v", err)
		}
		n.card = card
	}
	return n, known, nil
}

// originalField is one field of the original inference: its masked text
// as the extraction produced it and, when it could be read, its canonical
// form (for comparing with the correction).
type originalField struct {
	raw   string
	canon string
	ok    bool
}

// normalizeOriginal reads the original inference leniently (a misread is
// what the data pool is for) and returns its canonical forms and the JSON
// stored in original_inference: the masked values as given.
func (s *Service) normalizeOriginal(f Fields) (map[string]originalField, string, error) {
	out := map[string]originalField{}
	stored := map[string]string{}
	add := func(name string, v Value, canon func(string) (string, bool)) error {
		raw := strings.TrimSpace(string(v))
		if err := plainText("original_inference."+name, string(v), maxFieldValue, false); err != nil {
			return err
		}
		if raw == "" {
			return nil
		}
		masked, _ := MaskText(raw)
		of := originalField{raw: masked}
		of.canon, of.ok = canon(masked)
		out[name] = of
		stored[name] = masked
		return nil
	}
	steps := []struct {
		name  string
		v     Value
		canon func(string) (string, bool)
	}{
		{"merchant", f.Merchant, func(v string) (string, bool) { m := NormalizeMerchant(v); return m, m != "" }},
		{"amount", f.Amount, func(v string) (string, bool) {
			m, err := NormalizeAmount(v)
			return m.Amount.StringFixed(2), err == nil
		}},
		{"currency", f.Currency, func(v string) (string, bool) { c, err := NormalizeCurrency(v); return c, err == nil && c != "" }},
		{"date", f.Date, func(v string) (string, bool) { d, err := NormalizeDate(v); return d, err == nil }},
		{"category", f.Category, func(v string) (string, bool) { c, _ := s.taxonomy.Normalize(v); return c, c != "" }},
		{"card_last_four", f.CardLastFour, func(v string) (string, bool) { c, err := NormalizeCardLastFour(v); return c, err == nil }},
	}
	for _, st := range steps {
		if err := add(st.name, st.v, st.canon); err != nil {
			return nil, "", err
		}
	}
	// A card number where the last four belong keeps only those.
	if of, ok := out["card_last_four"]; ok && of.ok {
		stored["card_last_four"] = of.canon
	}
	// Canonical JSON: keys sorted, no spaces.
	b := make([]byte, 0, 128)
	b = append(b, '{')
	for _, k := range []string{"amount", "card_last_four", "category", "currency", "date", "merchant"} {
		v, ok := stored[k]
		if !ok {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(append(appendJSONString(b, k), ':'), v)
	}
	return out, string(append(b, '}')), nil
}

// appendJSONString appends s (valid UTF-8) as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// correctableFields are the fields fields_corrected may name, in order.
var correctableFields = []string{"merchant", "amount", "date", "category", "card_last_four"}

// fieldsCorrected lists the corrected fields whose normalised value
// differs from the original's (or that the original lacked or could not be
// read). An amount differs when its value or a currency both name differs.
func fieldsCorrected(orig map[string]originalField, n normalized) []string {
	out := []string{}
	differs := func(name, value string) bool {
		o, ok := orig[name]
		return !ok || !o.ok || o.canon != value
	}
	if n.merchant != "" && differs("merchant", n.merchant) {
		out = append(out, "merchant")
	}
	if n.amount != nil {
		d := differs("amount", n.amount.StringFixed(2))
		if oc, ok := orig["currency"]; !d && ok && oc.ok && n.currency != "" && oc.canon != n.currency {
			d = true
		}
		if d {
			out = append(out, "amount")
		}
	}
	if n.date != "" && differs("date", n.date) {
		out = append(out, "date")
	}
	if n.category != "" && differs("category", n.category) {
		out = append(out, "category")
	}
	if n.card != "" && differs("card_last_four", n.card) {
		out = append(out, "card_last_four")
	}
	return out
}

// assess applies the outlier rules that need the database: the receipt
// seen before (text fingerprint; skipped when checkFingerprints is false
// because the insert applies it) and the amount against the merchant's
// median. It sets is_outlier and outlier_reason.
func (s *Service) assess(ctx context.Context, preps []*prepared, now time.Time, checkFingerprints bool) error {
	var fps []string
	seenFP := map[string]string{} // fingerprint → id of the first in this batch
	for _, p := range preps {
		if p.textFP != "" && checkFingerprints {
			fps = append(fps, p.textFP)
		}
	}
	stored := map[string]string{}
	if len(fps) > 0 {
		var err error
		if stored, err = s.store.correctionsByTextFingerprint(ctx, dedupe(fps)); err != nil {
			return err
		}
	}
	// Merchant amounts: the cache, then one query for the rest.
	amounts := map[string][]float64{}
	var missing []string
	for _, p := range preps {
		m := p.corrected.merchant
		if m == "" || p.corrected.amount == nil {
			continue
		}
		if _, done := amounts[m]; done {
			continue
		}
		if a, ok := s.merchants.get(m, now); ok {
			amounts[m] = a
		} else {
			amounts[m] = nil
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		recent, err := s.store.recentAmounts(ctx, missing)
		if err != nil {
			return err
		}
		for _, m := range missing {
			var ds []float64
			for _, a := range recent[m] {
				if f, err := strconv.ParseFloat(a, 64); err == nil {
					ds = append(ds, f)
				}
			}
			s.merchants.put(m, ds, now)
			amounts[m] = ds
		}
	}
	for _, p := range preps {
		if p.textFP != "" && checkFingerprints {
			if id, ok := stored[p.textFP]; ok {
				p.reasons = append(p.reasons, fmt.Sprintf("%s: same text as correction %s", reasonDuplicate, id))
			} else if id, ok := seenFP[p.textFP]; ok {
				p.reasons = append(p.reasons, fmt.Sprintf("%s: same text as correction %s", reasonDuplicate, id))
			} else {
				seenFP[p.textFP] = p.row.ID
			}
		}
		if m := p.corrected.merchant; m != "" && p.corrected.amount != nil {
			if why, far := amountOutlier(*p.corrected.amount, amounts[m]); far {
				p.reasons = append(p.reasons, why)
			}
		}
		if len(p.reasons) > 0 {
			p.row.IsOutlier = true
			p.row.OutlierReason = ptr(strings.Join(p.reasons, "; "))
		}
	}
	return nil
}

// splitReasons splits outlier_reason back into its rules.
func splitReasons(reason *string) []string {
	if reason == nil || *reason == "" {
		return nil
	}
	return strings.Split(*reason, "; ")
}

// textFingerprint hashes the OCR text with case and spacing folded, so the
// same receipt scanned twice matches. Texts under 20 characters are too
// generic to mean "the same receipt" and get none.
func textFingerprint(masked string) string {
	folded := make([]byte, 0, len(masked))
	space, chars := false, 0
	for _, r := range masked {
		if unicode.IsSpace(r) {
			space = len(folded) > 0
			continue
		}
		if space {
			folded = append(folded, ' ')
			space = false
		}
		folded = utf8.AppendRune(folded, unicode.ToLower(r))
		chars++
	}
	if chars < 20 {
		return ""
	}
	sum := sha256.Sum256(folded)
	return hex.EncodeToString(sum[:16])
}

// identifier validates a short lower-case name (source_app, environment,
// provider): letters, digits, '.', '_' and '-', at most n characters.
func identifier(field, v string, n int) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return "", apierr.Field(field, "is required")
	}
	if !utf8.ValidString(v) {
		return "", apierr.Field(field, "is not valid UTF-8")
	}
	if len(v) > n {
		return "", apierr.Field(field, "is longer than %d characters", n)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "", apierr.Field(field, "may hold only letters, digits, '.', '_' and '-'")
		}
	}
	return v, nil
}

// plainText checks a free-text field: valid UTF-8, no control characters,
// at most n bytes (n > 0), present when required.
func plainText(field, v string, n int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return apierr.Field(field, "is required")
	}
	if !utf8.ValidString(v) {
		return apierr.Field(field, "is not valid UTF-8")
	}
	if n > 0 && len(v) > n {
		return apierr.Field(field, "is %d bytes, the limit is %d", len(v), n)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return apierr.Field(field, "contains control characters")
		}
	}
	return nil
}

// cleanText drops NUL and other control characters except tab and line
// breaks from OCR text (PostgreSQL cannot store NUL in TEXT).
func cleanText(s string) string {
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return -1
		}
		return r
	}, s)
}

// parseCreatedAt reads created_at: RFC 3339 or yyyy-mm-dd, in UTC, at
// microsecond precision (PostgreSQL's). Empty means now.
func parseCreatedAt(v string, now time.Time) (t time.Time, given bool, err error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return now.Truncate(time.Microsecond), false, nil
	}
	t, err = time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t, err = time.Parse(time.DateOnly, v)
	}
	if err != nil {
		return time.Time{}, false, apierr.Field("created_at", "must be an RFC 3339 time (2024-03-12T10:00:00Z) or a date (2024-03-12)")
	}
	t = t.UTC().Truncate(time.Microsecond)
	if t.Year() < 2000 || t.Year() > maxYear {
		return time.Time{}, false, apierr.Field("created_at", "year %d is outside 2000–%d", t.Year(), maxYear)
	}
	return t, true, nil
}

// forEach calls fn(0) … fn(n-1), spread over the CPUs when n is large
// enough to pay for it (a 1,000-item batch); fn must be safe to run
// concurrently for different i.
func forEach(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if workers < 2 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from; i < to; i++ {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// parallelMin is the least work per goroutine of forEach.
const parallelMin = 64

func ptr[T any](v T) *T { return &v }

// optional is nil for "" and &v otherwise.
func optional(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func dedupe(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

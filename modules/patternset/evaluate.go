package patternset

import (
	"fmt"
	"slices"
)

// FieldScore is how a matcher did on one field of a held-out slice. The
// matcher "predicts" a field when its best hit for the field exists
// (whatever its confidence); it is correct when that value is the
// example's corrected value.
type FieldScore struct {
	// Examples with a known value for the field.
	Examples int `json:"examples"`
	// Predicted, Correct: of those, how many got a value, a right one.
	Predicted int `json:"predicted"`
	Correct   int `json:"correct"`
	// Accuracy is Correct/Predicted (the precision of what it answers),
	// Coverage Predicted/Examples, Recall Correct/Examples, ErrorRate
	// (Predicted-Correct)/Examples: the share of receipts it would get wrong.
	Accuracy  float64 `json:"accuracy"`
	Coverage  float64 `json:"coverage"`
	Recall    float64 `json:"recall"`
	ErrorRate float64 `json:"error_rate"`
	// MeanConfidence is the mean confidence of the predictions; next to
	// Accuracy it shows how well the confidences are calibrated.
	MeanConfidence float64 `json:"mean_confidence"`
}

// Score is Evaluate's result.
type Score struct {
	Version  string                `json:"version"`
	Examples int                   `json:"examples"`
	Fields   map[string]FieldScore `json:"fields"`
}

// Evaluate applies m to every held-out example (its text and its Original
// values, as the OCR role would) and scores each field against Corrected.
// fields nil means merchant and category. A nil m scores as a matcher that
// never answers, so a first version is compared against nothing.
func Evaluate(m *Matcher, holdout []Example, fields []string) Score {
	if fields == nil {
		fields = []string{FieldMerchant, FieldCategory}
	}
	sc := Score{Examples: len(holdout), Fields: make(map[string]FieldScore, len(fields))}
	if m != nil {
		sc.Version = m.Version()
	}
	confSum := make(map[string]float64, len(fields))
	for i := range holdout {
		e := &holdout[i]
		var best map[string]Hit
		if m != nil {
			best = Best(m.MatchWithOriginal(e.Text, e.Original))
		}
		for _, f := range fields {
			want := truth(e, f)
			if want == "" {
				continue
			}
			fs := sc.Fields[f]
			fs.Examples++
			if h, ok := best[f]; ok {
				fs.Predicted++
				confSum[f] += h.Confidence
				if sameValue(h.Value, want) {
					fs.Correct++
				}
			}
			sc.Fields[f] = fs
		}
	}
	for f, fs := range sc.Fields {
		if fs.Predicted > 0 {
			fs.Accuracy = round4(float64(fs.Correct) / float64(fs.Predicted))
			fs.MeanConfidence = round4(confSum[f] / float64(fs.Predicted))
		}
		if fs.Examples > 0 {
			fs.Coverage = round4(float64(fs.Predicted) / float64(fs.Examples))
			fs.Recall = round4(float64(fs.Correct) / float64(fs.Examples))
			fs.ErrorRate = round4(float64(fs.Predicted-fs.Correct) / float64(fs.Examples))
		}
		sc.Fields[f] = fs
	}
	return sc
}

// NotWorse is the validation gate: it reports whether candidate, scored on
// the same held-out slice as active, is not worse on any field — for every
// field, its recall (the share of receipts it gets right) is at least
// active's minus tolerance, and so is its accuracy (the share of its answers
// that are right). More right answers bought with less trustworthy ones is
// worse; so is answering less. Against a version that never answers (no
// active version: Evaluate(nil, …)) any candidate passes. The reasons name
// every field that failed, for the version's notes.
func (candidate Score) NotWorse(active Score, tolerance float64) (ok bool, reasons []string) {
	fields := make([]string, 0, len(candidate.Fields)+len(active.Fields))
	for f := range candidate.Fields {
		fields = append(fields, f)
	}
	for f := range active.Fields {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	fields = slices.Compact(fields)
	const eps = 1e-9
	for _, f := range fields {
		c, a := candidate.Fields[f], active.Fields[f]
		if c.Recall < a.Recall-tolerance-eps {
			reasons = append(reasons, fmt.Sprintf("%s: recall %.4f < %.4f of %s", f, c.Recall, a.Recall, nameOr(active.Version)))
		}
		if c.Accuracy < a.Accuracy-tolerance-eps {
			reasons = append(reasons, fmt.Sprintf("%s: accuracy %.4f < %.4f of %s", f, c.Accuracy, a.Accuracy, nameOr(active.Version)))
		}
	}
	return len(reasons) == 0, reasons
}

func nameOr(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

// Split puts each example in the held-out slice when its ID's bucket (see
// Holdout) is below holdoutPct, keeping the input order in both slices. An
// example always lands on the same side whatever else is in the pool, so the
// held-out slice of one refresh stays held out in the next and the active
// version, learned the same way, never saw it either.
func Split(examples []Example, holdoutPct int) (learn, holdout []Example) {
	for _, e := range examples {
		if Holdout(e.ID, holdoutPct) {
			holdout = append(holdout, e)
		} else {
			learn = append(learn, e)
		}
	}
	return learn, holdout
}

// Holdout reports whether the example with this ID is in a held-out slice
// of holdoutPct percent (clamped to [0,100]): its bucket in [0, 100) is
// below holdoutPct. The bucket of a UUID comes from its last four hex
// digits, which SQL reads too, so the data pool selects the same slice in
// the database (see HoldoutBound); any other ID's is the first 8 bytes of
// SHA-256(id), big-endian, mod 100. IDs must be unique: examples with the same ID (or
// none) all land on the same side.
func Holdout(id string, holdoutPct int) bool {
	if holdoutPct <= 0 {
		return false
	}
	if holdoutPct >= 100 {
		return true
	}
	return holdoutBucket(id) < uint64(holdoutPct)
}

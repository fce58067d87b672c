package extract

import (
	"math"
	"strings"

	"github.com/shopspring/decimal"
)

// lineClass is what a line says about money.
type lineClass uint8

const (
	clsNone     lineClass = iota
	clsTotal              // a total of the receipt (weight says how strong)
	clsExcluded           // subtotal, tax, discount, rounding adjustment, quantity, ...
	clsPayment            // cash, card, tendered, paid
	clsChange             // change given back
	clsSummary            // start of a tax summary table
)

// classify says what kind of amount line l is and, for totals, how strongly
// its keywords point at the receipt total (1 weak .. 3.3 strong).
func classify(l *line, afterPayment bool) (lineClass, float64) {
	k := l.kw
	if k == 0 {
		return clsNone, 0
	}
	switch {
	case k.has(kwSummary):
		return clsSummary, 0
	case k.has(kwSub) && !k.has(kwGrand):
		return clsExcluded, 0
	case k.has(kwChange):
		return clsChange, 0
	case k.has(kwDiscount | kwPoints | kwDeposit | kwPrevious):
		return clsExcluded, 0
	case k.has(kwService|kwCharge) && !k.has(kwTotal|kwDue|kwPayable):
		return clsExcluded, 0
	case k.has(kwExcl), k.has(kwIncludes):
		return clsExcluded, 0
	case k.has(kwTax) && !k.has(kwIncl|kwAfter):
		if hasWord(l.words, "CODE") {
			return clsSummary, 0
		}
		return clsExcluded, 0
	case k.has(kwQty|kwItem) && !k.has(kwNet|kwGrand|kwDue|kwPayable|kwRounded|kwFinal):
		return clsExcluded, 0
	case k.has(kwRounding|kwAdj) && !k.has(kwTotal|kwDue|kwPayable|kwNet|kwFinal|kwRounded):
		return clsExcluded, 0
	}
	strong := k.has(kwGrand|kwDue|kwPayable|kwRounded|kwFinal|kwPay) ||
		k.has(kwNet) && k.has(kwTotal|kwAmount) ||
		k.has(kwAfter) && k.has(kwRounding|kwAdj|kwTotal) ||
		k.has(kwTotal) && k.has(kwRounding|kwAdj)
	incl := 0.0
	if k.has(kwIncl) {
		incl = 0.3
	}
	switch {
	case k.has(kwTotal):
		if strong {
			return clsTotal, 3 + incl
		}
		return clsTotal, 2 + incl
	case strong:
		return clsTotal, 3 + incl
	case k.has(kwCash | kwTender | kwCard):
		return clsPayment, 0
	case k.has(kwBalance):
		if afterPayment {
			return clsChange, 0
		}
		return clsTotal, 1.5
	case k.has(kwNet):
		return clsTotal, 1.5
	case k.has(kwAmount):
		return clsTotal, 1 + incl
	}
	return clsNone, 0
}

// amountOnly reports whether the line holds nothing but amounts, currency
// and punctuation (at most two stray letters of OCR noise).
func amountOnly(l *line, ms []money) bool {
	if len(ms) == 0 {
		return false
	}
	letters := 0
	pos := 0
	for _, m := range ms {
		letters += countLetters(l.up[pos:m.start])
		pos = m.end
	}
	letters += countLetters(l.up[pos:])
	// currency codes next to the amount are fine
	for _, m := range ms {
		if m.cur != "" && m.cur != "$" {
			letters -= 3
		}
	}
	return letters <= 2
}

func countLetters(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isLetter(s[i]) {
			n++
		}
	}
	return n
}

type amountCand struct {
	val      decimal.Decimal
	score    float64
	kwMax    float64
	kwLines  int
	source   string
	cur      string
	fromNext bool
}

type amountResult struct {
	val    decimal.Decimal
	conf   float64
	source string
	cur    string // currency printed next to the winning amount
}

// findAmount picks the receipt total from the prepared lines.
func findAmount(lines []line) (amountResult, bool) {
	n := len(lines)
	ms := make([][]money, n)
	cls := make([]lineClass, n)
	w := make([]float64, n)
	afterPayment, afterRounding := false, false
	summaryUntil := -1
	for i := range lines {
		ms[i] = lines[i].money
		cls[i], w[i] = classify(&lines[i], afterPayment)
		if cls[i] == clsPayment {
			afterPayment = true
		}
		if cls[i] == clsSummary {
			summaryUntil = i + 6
		}
		if cls[i] == clsTotal && i <= summaryUntil {
			w[i] *= 0.4
		}
		if cls[i] == clsTotal && afterRounding && !afterPayment {
			w[i] += 0.5 // the total after a rounding adjustment is the one paid
		}
		if cls[i] == clsExcluded && lines[i].kw.has(kwRounding|kwAdj) {
			afterRounding = true
		}
		if len(ms[i]) == 0 && (cls[i] == clsTotal || cls[i] == clsPayment || cls[i] == clsChange) {
			if m, ok := looseMoney(lines[i].up); ok {
				ms[i] = []money{m}
				w[i] *= 0.7
			}
		}
	}

	// value of each line: its own amounts, or for label-only lines the
	// amounts of the following amount-only lines (one label, or a column of
	// labels followed by a column of values).
	val := make([]*money, n)
	mult := make([]bool, n)
	next := make([]bool, n)
	for i := 0; i < n; i++ {
		pos := ms[i]
		if cls[i] != clsPayment && cls[i] != clsChange {
			pos = positive(pos)
		}
		if len(pos) > 0 {
			m := pos[len(pos)-1]
			val[i] = &m
			mult[i] = len(pos) > 1
			continue
		}
		if cls[i] == clsNone || cls[i] == clsSummary || len(ms[i]) > 0 {
			continue
		}
		// a run of label-only lines i..j-1
		j := i
		for j < n && cls[j] != clsNone && cls[j] != clsSummary && len(ms[j]) == 0 {
			j++
		}
		k := j
		for k < n && k-j < j-i && amountOnly(&lines[k], ms[k]) && cls[k] == clsNone {
			k++
		}
		for x := 0; x < k-j; x++ {
			pos := positive(ms[j+x])
			if len(pos) == 0 {
				continue
			}
			m := pos[0]
			val[i+x] = &m
			next[i+x] = true
		}
		i = j - 1
	}

	cands := map[string]*amountCand{}
	get := func(v decimal.Decimal) *amountCand {
		key := v.StringFixed(2)
		c := cands[key]
		if c == nil {
			c = &amountCand{val: v}
			cands[key] = c
		}
		return c
	}
	var payment, change *money
	hasChangeLine := false
	maxAmt := decimal.Zero
	for i := 0; i < n; i++ {
		m := val[i]
		switch cls[i] {
		case clsChange:
			hasChangeLine = true
			if m != nil && change == nil {
				change = m
			}
		case clsPayment:
			if m != nil && (payment == nil || m.val.GreaterThan(payment.val)) {
				payment = m
			}
		case clsTotal:
			if m == nil || m.val.IsZero() {
				continue
			}
			c := get(m.val)
			wt := w[i]
			if mult[i] {
				wt *= 0.6
			}
			if next[i] {
				wt *= 0.85
			}
			if wt > c.kwMax {
				c.kwMax = wt
				c.fromNext = next[i]
			}
			c.kwLines++
			if c.cur == "" {
				c.cur = m.cur
			}
		}
		if (cls[i] == clsTotal || cls[i] == clsNone) && m != nil && m.val.GreaterThan(maxAmt) {
			maxAmt = m.val
		}
	}

	// the last total line before the payment block is usually the final one
	lastIdx := -1
	for i := 0; i < n; i++ {
		if cls[i] == clsTotal && val[i] != nil && !val[i].val.IsZero() && w[i] >= 1.5 {
			lastIdx = i
		}
		if cls[i] == clsPayment && lastIdx >= 0 {
			break
		}
	}

	for _, c := range cands {
		c.score = c.kwMax + 0.4*math.Min(float64(c.kwLines-1), 3)
		c.source = "rule:total-keyword"
		if c.fromNext {
			c.source = "rule:total-next-line"
		}
		if lastIdx >= 0 && c.val.Equal(val[lastIdx].val) {
			c.score += 0.3
		}
		if c.val.Equal(maxAmt) {
			c.score += 0.3
		}
	}

	// payment − change agreement
	if payment != nil {
		paid := payment.val
		if change != nil && !change.val.GreaterThan(paid) {
			paid = paid.Sub(change.val)
		}
		bonus := 0.7
		if change != nil {
			bonus = 1.5
		} else if hasChangeLine {
			bonus = 0.9
		}
		if c, ok := cands[paid.StringFixed(2)]; ok {
			c.score += bonus
		} else if paid.IsPositive() {
			// a rounded total (to 0.05) next to an unrounded keyword total
			var near *amountCand
			for _, t := range cands {
				if t.val.Sub(paid).Abs().LessThanOrEqual(decimal.New(10, -2)) && (near == nil || t.score > near.score) {
					near = t
				}
			}
			five := decimal.New(5, -2)
			c := get(paid)
			c.cur = payment.cur
			if near != nil && paid.Mod(five).IsZero() && !near.val.Mod(five).IsZero() {
				c.score = near.score + 0.5
				c.source = "rule:rounded-payment"
			} else {
				c.score = bonus * 0.8
				c.source = "rule:cash-minus-change"
				if change == nil {
					c.source = "rule:payment"
				}
			}
		}
	}

	var best, second *amountCand
	for _, c := range cands {
		if c.score <= 0 {
			continue
		}
		if best == nil || c.score > best.score || c.score == best.score && c.val.GreaterThan(best.val) {
			best, second = c, best
		} else if second == nil || c.score > second.score {
			second = c
		}
	}
	if best == nil {
		// no keyword and no payment: the largest amount in the lower part
		var m *money
		for i := n / 3; i < n; i++ {
			if cls[i] != clsNone || val[i] == nil || val[i].val.IsZero() {
				continue
			}
			if m == nil || val[i].val.GreaterThan(m.val) {
				m = val[i]
			}
		}
		if m == nil {
			return amountResult{}, false
		}
		return amountResult{val: m.val, conf: 0.25, source: "rule:largest-amount", cur: m.cur}, true
	}
	conf := 1 - math.Exp(-best.score/2.2)
	if second != nil {
		margin := math.Min(1, (best.score-second.score)/1.5)
		conf *= 0.7 + 0.3*margin
	}
	return amountResult{val: best.val, conf: clamp01(math.Min(conf, 0.97)), source: best.source, cur: best.cur}, true
}

// positive returns the non-negative amounts of ms.
func positive(ms []money) []money {
	for _, m := range ms {
		if m.neg {
			out := make([]money, 0, len(ms))
			for _, m := range ms {
				if !m.neg {
					out = append(out, m)
				}
			}
			return out
		}
	}
	return ms
}

// looseMoney reads an amount whose decimal point OCR lost, "RM28 05",
// "38 00", at the end of a keyword line: digits, one space, two digits.
func looseMoney(s string) (money, bool) {
	s = strings.TrimRight(s, " .,:;-_~*")
	sp := strings.LastIndexByte(s, ' ')
	if sp < 1 || len(s)-sp-1 != 2 || !allDigits(s[sp+1:]) {
		return money{}, false
	}
	j := sp
	for j > 0 && isDigit(s[j-1]) && sp-j < 6 {
		j--
	}
	if j == sp || j > 0 && (isDigit(s[j-1]) || s[j-1] == '.' || s[j-1] == ',' || s[j-1] == ':' || s[j-1] == '/') {
		return money{}, false
	}
	v, ok := parseMoneyToken(s[j:sp] + "." + s[sp+1:])
	if !ok {
		return money{}, false
	}
	iso, _ := currencyBefore(s, j)
	return money{val: v, cur: iso, start: j, end: len(s)}, true
}

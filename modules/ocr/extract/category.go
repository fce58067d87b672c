package extract

import (
	"math"
	"sort"
	"strings"
)

// DefaultCategories is the keyword taxonomy used when Options.Categories is
// nil: category → lower-case words or phrases. A keyword in the merchant name
// counts more than one elsewhere on the receipt.
func DefaultCategories() map[string][]string {
	return map[string][]string{
		"meals": {"restaurant", "restoran", "cafe", "café", "coffee", "kopitiam", "food", "foods", "bakery",
			"bakeries", "bistro", "diner", "kitchen", "pizza", "pizzeria", "burger", "noodle", "noodles", "sushi",
			"catering", "seafood", "grill", "steakhouse", "eatery", "canteen", "kedai makan", "nasi", "mee",
			"dine in", "take away", "takeaway", "brasserie", "trattoria",
			"ristorante", "gaststätte", "imbiss", "tea house", "dim sum", "bar & grill", "pub"},
		"fuel": {"petrol", "fuel", "gas station", "petroleum", "diesel", "unleaded", "gasoline", "ron95", "ron 95",
			"ron97", "ron 97", "shell", "benzin",
			"carburant", "service station", "litre", "liters", "gallons"},
		"supplies": {"hardware", "building material", "building materials", "tools", "paint", "plumbing",
			"electrical", "timber", "cement", "steel", "welding", "industrial supply", "home improvement",
			"baumarkt", "bricolage"},
		"lodging": {"hotel", "motel", "inn", "resort", "hostel", "lodge", "suites", "accommodation", "guest house",
			"guesthouse", "homestay", "room charge", "check-in", "check out", "airbnb"},
		"transport": {"taxi", "cab", "grab", "uber", "lyft", "parking", "toll", "bus", "train", "railway", "rail",
			"mrt", "lrt", "airline", "airlines", "airport", "flight", "ferry", "car rental", "transit", "metro",
			"e-hailing", "fare"},
		"health": {"pharmacy", "farmasi", "pharmacie", "apotheke", "farmacia", "chemist", "clinic", "klinik",
			"hospital", "medical", "dental", "dentist", "optical", "optometrist", "drugstore", "health", "medicine"},
		"office": {"stationery", "stationary", "book", "books", "bookstore", "bookshop", "printing", "photocopy",
			"office", "toner", "cartridge", "paper", "computer", "it product", "courier", "postage", "post office"},
		"groceries": {"supermarket", "hypermarket", "grocery", "groceries", "minimarket", "mini market", "mart",
			"provision", "pasaraya", "wholesale", "cash & carry", "market"},
		"telecom": {"prepaid", "reload", "top up", "topup", "mobile plan", "broadband", "telecom"},
		"entertainment": {"cinema", "movie", "theatre", "theater", "karaoke", "bowling", "museum", "concert",
			"ticket"},
	}
}

// categoryIndex is a compiled taxonomy.
type categoryIndex struct {
	names   []string         // sorted category names
	words   map[string][]int // single-word keyword → categories
	phrases []phraseKW       // multi-word keywords
}

type phraseKW struct {
	phrase string
	cat    int
}

func buildCategoryIndex(tax map[string][]string) *categoryIndex {
	ix := &categoryIndex{words: map[string][]int{}}
	for name := range tax {
		ix.names = append(ix.names, name)
	}
	sort.Strings(ix.names)
	for ci, name := range ix.names {
		for _, kw := range tax[name] {
			kw = strings.ToLower(strings.TrimSpace(kw))
			if kw == "" {
				continue
			}
			if ws := splitWords(kw); len(ws) == 1 && ws[0] == kw {
				ix.words[kw] = append(ix.words[kw], ci)
			} else {
				ix.phrases = append(ix.phrases, phraseKW{phrase: kw, cat: ci})
			}
		}
	}
	return ix
}

type categoryResult struct {
	name   string
	conf   float64
	source string
}

// findCategory scores categories by keywords in the merchant name (weight 3),
// the header (1) and the rest of the receipt (0.5).
func (ix *categoryIndex) find(merchant string, lines []line) (categoryResult, bool) {
	if ix == nil || len(ix.names) == 0 {
		return categoryResult{}, false
	}
	scores := make([]float64, len(ix.names))
	inMerchant := make([]bool, len(ix.names))
	add := func(s string, w float64, merchant bool) {
		low := strings.ToLower(s)
		seen := map[int]bool{}
		for _, word := range splitWords(low) {
			for _, c := range ix.words[word] {
				if !seen[c] {
					seen[c] = true
					scores[c] += w
					if merchant {
						inMerchant[c] = true
					}
				}
			}
		}
		for _, p := range ix.phrases {
			if !seen[p.cat] && containsWord(low, p.phrase) {
				seen[p.cat] = true
				scores[p.cat] += w
				if merchant {
					inMerchant[p.cat] = true
				}
			}
		}
	}
	if merchant != "" {
		add(merchant, 3, true)
	}
	var head, body strings.Builder
	for i := range lines {
		b := &body
		if i < merchantLines {
			b = &head
		}
		b.WriteString(lines[i].raw)
		b.WriteByte('\n')
	}
	add(head.String(), 1, false)
	add(body.String(), 0.5, false)
	best, second := -1, -1
	for c := range scores {
		if scores[c] == 0 {
			continue
		}
		if best < 0 || scores[c] > scores[best] {
			best, second = c, best
		} else if second < 0 || scores[c] > scores[second] {
			second = c
		}
	}
	if best < 0 {
		return categoryResult{}, false
	}
	s := scores[best]
	conf := 1 - math.Exp(-s/3)
	if second >= 0 {
		conf *= 0.6 + 0.4*math.Min(1, (s-scores[second])/s)
	}
	src := "rule:category-keyword"
	if inMerchant[best] {
		src = "rule:category-merchant-keyword"
	}
	return categoryResult{name: ix.names[best], conf: clamp01(math.Min(conf, 0.85)), source: src}, true
}
